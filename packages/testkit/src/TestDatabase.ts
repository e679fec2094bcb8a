/**
 * A fresh PostgreSQL database per test file, so test files run in parallel and
 * never see each other's data (or each other's LISTEN/NOTIFY traffic).
 *
 * The server comes from `DATABASE_URL` when it is set (CI: the machine's
 * PostgreSQL), otherwise from the embedded PostgreSQL that the root vitest
 * global setup started and announced through `inject("databaseUrl")`.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

/** The admin URL of the PostgreSQL server the tests use. */
export const serverUrl = (): string => process.env.DATABASE_URL ?? inject("databaseUrl")

const withDatabase = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

const runAdmin = (url: string, statement: string) =>
  SqlClient.SqlClient.pipe(
    Effect.flatMap((sql) => sql.unsafe(statement)),
    Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))
  )

/** Creates an empty database with a unique name and drops it when the scope closes. */
export const create = (label: string) =>
  Effect.gen(function* () {
    const admin = serverUrl()
    const name = `agora_t_${label
      .replace(/[^a-z0-9]/gi, "_")
      .toLowerCase()
      .slice(0, 30)}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
    yield* runAdmin(admin, `CREATE DATABASE "${name}"`)
    yield* Effect.addFinalizer(() =>
      runAdmin(admin, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).pipe(Effect.ignore)
    )
    return withDatabase(admin, name)
  })

/** A `PgClient` (and `SqlClient`) on a fresh database of its own. */
export const layer = (
  label: string,
  options: { readonly maxConnections?: number } = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient> =>
  Layer.unwrap(
    Effect.map(create(label), (url) =>
      PgClient.layer({ url: Redacted.make(url), maxConnections: options.maxConnections ?? 10 })
    )
  ).pipe(Layer.orDie)
