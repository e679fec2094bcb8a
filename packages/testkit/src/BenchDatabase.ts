/**
 * Databases for benchmarks: each benchmark recreates its own, by name, on the
 * PostgreSQL at DATABASE_URL (default: the machine's), so runs start equal.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"

/** The admin URL benchmarks use. */
export const serverUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"

const admin = (statement: string) =>
  Effect.runPromise(
    SqlClient.SqlClient.pipe(
      Effect.flatMap((sql) => sql.unsafe(statement)),
      Effect.provide(PgClient.layer({ url: Redacted.make(serverUrl), maxConnections: 1 }))
    )
  )

/** Drops and creates the database `name`; returns its URL. */
export const fresh = async (name: string): Promise<string> => {
  await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  await admin(`CREATE DATABASE "${name}"`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}
