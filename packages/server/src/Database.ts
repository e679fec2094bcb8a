/**
 * The PostgreSQL the server (and the root scripts) run on: `DATABASE_URL`
 * when it is set, otherwise an embedded PostgreSQL of our own with its data
 * in `.data/pg` (port `EMBEDDED_PG_PORT`, directory `EMBEDDED_PG_DIR`).
 */
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { PgClient } from "@effect/sql-pg"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import { EmbeddedPostgres } from "./EmbeddedPostgres.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

/** The development default: a PostgreSQL of our own, its data kept in `.data/pg`. */
const EmbeddedDatabase = Layer.unwrap(
  Effect.gen(function* () {
    const port = yield* Config.Port("EMBEDDED_PG_PORT").pipe(Config.withDefault(54329))
    const dataDir = yield* Config.String("EMBEDDED_PG_DIR").pipe(Config.withDefault(join(repoRoot, ".data", "pg")))
    yield* Effect.logWarning(
      `DATABASE_URL is not set: running with EMBEDDED DEVELOPMENT DEFAULTS (PostgreSQL on 127.0.0.1:${port}, data in ${dataDir}). Set DATABASE_URL for anything else.`
    )
    const client = Layer.unwrap(
      Effect.gen(function* () {
        const { url } = yield* EmbeddedPostgres
        return PgClient.layer({ url })
      })
    )
    return client.pipe(Layer.provide(EmbeddedPostgres.layer({ dataDir, port, database: "agora" })))
  })
)

/** A `PgClient` (and `SqlClient`) on the configured database. */
export const layer = Layer.unwrap(
  Effect.gen(function* () {
    const url = yield* Config.option(Config.Redacted("DATABASE_URL"))
    if (Option.isNone(url) || Redacted.value(url.value) === "") return EmbeddedDatabase
    // Where, never who: the URL's credentials stay out of the log.
    const where = URL.parse(Redacted.value(url.value))
    yield* Effect.logInfo(`Database: ${where ? `${where.host}${where.pathname}` : "DATABASE_URL (not a URL?)"}`)
    return PgClient.layer({ url: url.value })
  })
)
