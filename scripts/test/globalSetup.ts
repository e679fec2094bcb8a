/**
 * Vitest global setup: announces the PostgreSQL server the tests use.
 *
 * With `DATABASE_URL` set (CI: the machine's PostgreSQL) that server is used;
 * otherwise an embedded PostgreSQL of its own (data in `.data/pg-test`, port
 * 54330) runs for the whole test run. `@agora/testkit` creates a fresh database
 * per test file on it.
 */
import { fileURLToPath } from "node:url"
import { ManagedRuntime, Redacted } from "effect"
import type { TestProject } from "vitest/node"
import { EmbeddedPostgres } from "../../packages/server/src/EmbeddedPostgres.ts"

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

export default async function setup(project: TestProject) {
  const configured = process.env.DATABASE_URL
  if (configured !== undefined && configured !== "") {
    project.provide("databaseUrl", configured)
    return
  }
  const runtime = ManagedRuntime.make(
    EmbeddedPostgres.layer({
      dataDir: fileURLToPath(new URL("../../.data/pg-test", import.meta.url)),
      port: Number(process.env.EMBEDDED_PG_TEST_PORT ?? 54330),
      database: "postgres"
    })
  )
  const url = await runtime.runPromise(EmbeddedPostgres.useSync((pg) => Redacted.value(pg.url)))
  project.provide("databaseUrl", url)
  return () => runtime.dispose()
}
