/**
 * Test helpers for other packages: a Redis read-model store under a fresh,
 * random key prefix, whose keys are deleted (and client closed) with the
 * scope, so test files never see each other's data nor leave any behind.
 */
import { randomUUID } from "node:crypto"
import { Effect, Layer, type Scope } from "effect"
import type { Redis } from "ioredis"
import { ReadModelStore } from "../src/ReadModelStore.ts"
import * as RedisReadModelStore from "../src/RedisReadModelStore.ts"

/** A prefix no other test run uses. */
export const freshPrefix = (): string => `agora-test:rm:${randomUUID()}:`

/** Deletes every key under `prefix` (best effort: a cleanup never fails a test). */
export const deleteKeys = (redis: Redis, prefix: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`
    let cursor = "0"
    do {
      const [next, keys] = yield* Effect.tryPromise(() => redis.scan(cursor, "MATCH", pattern, "COUNT", 1000))
      if (keys.length > 0) yield* Effect.tryPromise(() => redis.unlink(keys))
      cursor = next
    } while (cursor !== "0")
  }).pipe(Effect.ignore)

export interface TestRedisStore {
  readonly store: ReadModelStore["Service"]
  /** The store's own client, for looking at raw keys. */
  readonly redis: Redis
  readonly prefix: string
}

/**
 * A Redis store on a client of its own, under `prefix` (default: a fresh one).
 * Its keys are deleted and its client closed when the scope closes; pass the
 * prefix of another to get a second client of the same data.
 */
export const makeRedisStore = (
  url: string,
  prefix: string = freshPrefix()
): Effect.Effect<TestRedisStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    const redis = yield* RedisReadModelStore.acquireRedis(url)
    // Added after the client: it runs before the client is closed.
    yield* Effect.addFinalizer(() => deleteKeys(redis, prefix))
    const store = yield* RedisReadModelStore.make(redis, { prefix })
    return { store, redis, prefix }
  })

/** `ReadModelStore` on Redis at `url` under a fresh prefix, cleaned up with the layer. */
export const layerRedis = (url: string): Layer.Layer<ReadModelStore> =>
  Layer.effect(
    ReadModelStore,
    Effect.map(makeRedisStore(url), ({ store }) => store)
  )
