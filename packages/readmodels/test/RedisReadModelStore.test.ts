import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Layer } from "effect"
import { ReadModelStore, RedisReadModelStore } from "../src/index.ts"
import { put, readModelStoreContract, StoreUnderTest } from "./ReadModelStoreContract.ts"
import { freshPrefix, makeRedisStore } from "./testing.ts"

const redisUrl = process.env.REDIS_URL

if (redisUrl === undefined) {
  console.warn("RedisReadModelStore: the Redis adapter's tests are skipped because REDIS_URL is not set")
} else {
  readModelStoreContract(
    "Redis",
    Layer.effect(
      StoreUnderTest,
      Effect.gen(function* () {
        // Two clients of one prefix: the peer stands for another process.
        const { store, prefix } = yield* makeRedisStore(redisUrl)
        const { store: peer } = yield* makeRedisStore(redisUrl, prefix)
        return { store, peer, switchVisibleWithinMillis: 1_000 }
      })
    )
  )
}

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

describe.skipIf(redisUrl === undefined)("Redis adapter", () => {
  it.live("stores its keys as documented", () =>
    Effect.gen(function* () {
      const { store, redis, prefix } = yield* makeRedisStore(redisUrl!)
      assert.strictEqual(yield* store.activeGeneration("orders"), 1)
      yield* store.commit(
        { projection: "orders", generation: 1 },
        {
          expectedCheckpoint: 0,
          checkpoint: 42,
          writes: [
            put("order:1", 3, `{"id":1}`),
            put("temp", 1, "t", 30),
            { _tag: "IndexAdd", key: "by-user:u1", member: "order:1", score: 5 }
          ],
          requireActive: true
        }
      )
      const base = `${prefix}orders:`
      assert.strictEqual(yield* promise(() => redis.get(`${base}active`)), "1")
      assert.strictEqual(yield* promise(() => redis.get(`${base}generations`)), "1")
      assert.strictEqual(yield* promise(() => redis.get(`${base}g1:checkpoint`)), "42")
      assert.strictEqual(yield* promise(() => redis.get(`${base}g1:d:order:1`)), `3|{"id":1}`)
      assert.strictEqual(yield* promise(() => redis.pttl(`${base}g1:d:order:1`)), -1)
      const ttl = yield* promise(() => redis.pttl(`${base}g1:d:temp`))
      assert.isAbove(ttl, 29_000)
      assert.isAtMost(ttl, 30_000)
      assert.deepStrictEqual(yield* promise(() => redis.zrange(`${base}g1:i:by-user:u1`, 0, "-1", "WITHSCORES")), [
        "order:1",
        "5"
      ])
      assert.strictEqual((yield* store.newGeneration("orders")).generation, 2)
      assert.strictEqual(yield* promise(() => redis.get(`${base}generations`)), "2")
    })
  )

  it.live("a reader in another process keeps the active generation it read for at most a second", () =>
    Effect.gen(function* () {
      const { store, prefix } = yield* makeRedisStore(redisUrl!)
      const { store: reader } = yield* makeRedisStore(redisUrl!, prefix)
      const projection = "catalog"
      yield* store.activeGeneration(projection)
      const g2 = yield* store.newGeneration(projection)
      yield* store.commit(g2, { expectedCheckpoint: 0, checkpoint: 1, writes: [put("a", 1)], requireActive: false })
      assert.deepStrictEqual(yield* reader.getDocs({ projection }, ["a"]), [undefined])
      assert.isTrue(yield* store.switchActive(projection, 1, 2))
      const switchedAt = yield* Clock.currentTimeMillis
      // Cached: still generation 1, without asking Redis.
      assert.deepStrictEqual(yield* reader.getDocs({ projection }, ["a"]), [undefined])
      let seen = yield* reader.getDocs({ projection }, ["a"])
      while (seen[0] === undefined) {
        yield* Effect.sleep("20 millis")
        seen = yield* reader.getDocs({ projection }, ["a"])
      }
      assert.isAtMost((yield* Clock.currentTimeMillis) - switchedAt, 1_100)
      // activeGeneration always asks Redis.
      const { store: other } = yield* makeRedisStore(redisUrl!, prefix)
      yield* other.getDocs({ projection }, ["a"])
      const g3 = yield* store.newGeneration(projection)
      assert.isTrue(yield* store.switchActive(projection, 2, g3.generation))
      assert.strictEqual(yield* other.activeGeneration(projection), 3)
    })
  )

  it.live("loads its scripts again after Redis forgets them", () =>
    Effect.gen(function* () {
      const { store, redis } = yield* makeRedisStore(redisUrl!)
      const g1 = { projection: "p", generation: yield* store.activeGeneration("p") }
      yield* store.commit(g1, { expectedCheckpoint: 0, checkpoint: 1, writes: [put("a", 1)], requireActive: true })
      yield* promise(() => redis.script("FLUSH"))
      yield* store.commit(g1, { expectedCheckpoint: 1, checkpoint: 2, writes: [put("a", 2)], requireActive: true })
      assert.strictEqual(yield* store.checkpoint(g1), 2)
    })
  )

  it.live("commits batches of thousands of writes, pipelined", () =>
    Effect.gen(function* () {
      const { store } = yield* makeRedisStore(redisUrl!)
      const g1 = { projection: "bulk", generation: yield* store.activeGeneration("bulk") }
      const batches = 20
      const eventsPerBatch = 2_500
      const json = JSON.stringify({ status: "placed", lines: [{ sku: "SKU-1", qty: 2, price: 1999 }], total: 3998 })
      const started = yield* Clock.currentTimeMillis
      yield* Effect.forEach(
        Array.from({ length: batches }, (_, b) => b),
        (b) =>
          store.commit(g1, {
            expectedCheckpoint: b * eventsPerBatch,
            checkpoint: (b + 1) * eventsPerBatch,
            // Each event: its order document and an entry in its user's index.
            writes: Array.from({ length: eventsPerBatch }, (_, i) => [
              put(`order:${b}:${i}`, 1, json),
              {
                _tag: "IndexAdd" as const,
                key: `user:${i % 500}`,
                member: `order:${b}:${i}`,
                score: b * eventsPerBatch + i
              }
            ]).flat(),
            requireActive: true
          }),
        { concurrency: 4 }
      )
      const elapsed = (yield* Clock.currentTimeMillis) - started
      const events = batches * eventsPerBatch
      console.log(
        `RedisReadModelStore: ${events} events (${2 * events} writes) in ${elapsed} ms: ${Math.round((events * 1000) / elapsed)} events/s`
      )
      assert.strictEqual(yield* store.checkpoint(g1), events)
      assert.deepStrictEqual(yield* store.getDocs({ projection: "bulk" }, ["order:19:2499"]), [{ version: 1, json }])
    })
  )
})

describe("Redis adapter when Redis is down", () => {
  it.live("fails fast with ReadModelError instead of waiting for Redis", () =>
    Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      const errors = yield* Effect.gen(function* () {
        const store = yield* ReadModelStore
        const g1 = { projection: "p", generation: 1 }
        return yield* Effect.all([
          store.getDocs({ projection: "p" }, ["a"]).pipe(Effect.flip),
          store.getDocs(g1, ["a"]).pipe(Effect.flip),
          store
            .commit(g1, { expectedCheckpoint: 0, checkpoint: 1, writes: [put("a", 1)], requireActive: true })
            .pipe(Effect.flip),
          store.activeGeneration("p").pipe(Effect.flip),
          store.ping.pipe(Effect.flip)
        ])
      }).pipe(
        Effect.provide(RedisReadModelStore.layerFromUrl("redis://127.0.0.1:1", { prefix: freshPrefix() })),
        Effect.timeout("5 seconds")
      )
      assert.deepStrictEqual(
        errors.map((e) => [e._tag, e._tag === "ReadModelError" ? e.operation : ""]),
        [
          ["ReadModelError", "getDocs"],
          ["ReadModelError", "getDocs"],
          ["ReadModelError", "commit"],
          ["ReadModelError", "activeGeneration"],
          ["ReadModelError", "ping"]
        ]
      )
      assert.isBelow((yield* Clock.currentTimeMillis) - started, 3_000)
    })
  )
})
