/**
 * What a benchmark leaves behind on the shared machine services, removed when
 * it ends: its bench database, and its Redis keys (read models, rate limits)
 * under the run's own prefixes. Shared by `projections.bench.ts` and
 * `load.bench.ts`.
 */
import { RedisReadModelStore } from "@agora/readmodels"
import { deleteKeys } from "@agora/readmodels/testing"
import * as BenchDatabase from "@agora/testkit/bench-database"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"

/** Drops the bench database `name` (closing its connections). */
export const dropDatabase = (name: string) =>
  Effect.runPromise(
    SqlClient.SqlClient.pipe(
      Effect.flatMap((sql) => sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
      Effect.provide(PgClient.layer({ url: Redacted.make(BenchDatabase.serverUrl), maxConnections: 1 }))
    )
  )

/** Deletes every key under each prefix on the Redis at `url` (best effort). */
export const deleteRedisKeys = (url: string, prefixes: ReadonlyArray<string>) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* RedisReadModelStore.acquireRedis(url)
        for (const prefix of prefixes) yield* deleteKeys(redis, prefix)
      })
    )
  )
