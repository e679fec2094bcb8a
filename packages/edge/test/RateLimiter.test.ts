import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { Redis } from "ioredis"
import {
  acquireRedis,
  makeMemoryRateLimiter,
  makeRedisRateLimiter,
  RateLimiter,
  redisClientOptions
} from "../src/index.ts"
import { LimiterFactory, rateLimiterContract } from "./RateLimiterContract.ts"

const redisUrl = process.env.REDIS_URL
// Every key this file writes starts with this prefix, so runs never see each other's buckets.
const prefix = `agora-test:ratelimit:${randomUUID()}:`

rateLimiterContract(
  "in-process",
  Layer.succeed(LimiterFactory, { make: (settings) => makeMemoryRateLimiter(settings) })
)

if (redisUrl === undefined) {
  console.warn("RateLimiter: the Redis adapter's tests are skipped because REDIS_URL is not set")
} else {
  rateLimiterContract(
    "Redis",
    Layer.effect(
      LimiterFactory,
      Effect.map(acquireRedis(redisUrl), (redis) => ({
        make: (settings) => makeRedisRateLimiter(redis, { ...settings, prefix })
      }))
    )
  )
}

describe("in-process adapter", () => {
  it.effect("forgets a bucket once it would be full again", () =>
    Effect.gen(function* () {
      const rl = yield* makeMemoryRateLimiter({ capacity: 10, refillPerSecond: 10 })
      for (let i = 0; i < 100; i++) yield* rl.take(`ip:10.0.0.${i}`)
      assert.strictEqual(yield* rl.bucketCount, 100)
      yield* TestClock.adjust("999 millis")
      yield* rl.take("ip:10.0.1.1")
      assert.isAtLeast(yield* rl.bucketCount, 97)
      yield* TestClock.adjust("1 second")
      // Each take clears a few idle buckets from the old end: constant work per request.
      for (let i = 0; i < 30; i++) yield* rl.take("ip:10.0.1.1")
      assert.strictEqual(yield* rl.bucketCount, 1)
    })
  )

  it.effect("keeps at most maxBuckets under a flood of new subjects", () =>
    Effect.gen(function* () {
      const rl = yield* makeMemoryRateLimiter({ capacity: 10, refillPerSecond: 1, maxBuckets: 100 })
      for (let i = 0; i < 10_000; i++) yield* rl.take(`ip:spoofed-${i}`)
      assert.isAtMost(yield* rl.bucketCount, 100)
    })
  )

  it.effect("keeps the bucket of an active subject through a flood of new ones", () =>
    Effect.gen(function* () {
      const rl = yield* makeMemoryRateLimiter({ capacity: 3, refillPerSecond: 0.001, maxBuckets: 50 })
      for (let i = 0; i < 1_000; i++) {
        if (i % 10 === 0) yield* rl.take("user:busy")
        yield* rl.take(`ip:spoofed-${i}`)
      }
      // Only three of its hundred takes were allowed: its bucket was never evicted and refilled.
      assert.strictEqual((yield* rl.take("user:busy"))._tag, "Limited")
    })
  )
})

describe("configuration", () => {
  const withConfig = (config: Record<string, string>) =>
    Effect.provide(
      RateLimiter.layerMemory.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(config))))
    )

  it.effect("defaults to 100 tokens refilled at 20 per second", () =>
    Effect.gen(function* () {
      const decision = yield* RateLimiter.use((rl) => rl.take("user:1"))
      assert.deepStrictEqual({ ...decision }, { _tag: "Allowed", remaining: 99, limit: 100, resetSeconds: 1 })
    }).pipe(withConfig({}))
  )

  it.effect("reads RATE_LIMIT_CAPACITY and RATE_LIMIT_REFILL_PER_SECOND", () =>
    Effect.gen(function* () {
      const decisions = yield* RateLimiter.use((rl) => Effect.forEach([1, 2, 3], () => rl.take("user:1")))
      assert.deepStrictEqual(
        decisions.map((d) => d._tag),
        ["Allowed", "Allowed", "Limited"]
      )
      const limited = decisions[2]!
      assert.strictEqual(limited._tag === "Limited" && limited.retryAfterSeconds, 2)
    }).pipe(withConfig({ RATE_LIMIT_CAPACITY: "2", RATE_LIMIT_REFILL_PER_SECOND: "0.5" }))
  )

  it.effect("allows everything with RATE_LIMIT_ENABLED=false", () =>
    Effect.gen(function* () {
      const decisions = yield* RateLimiter.use((rl) => Effect.forEach(Array.from({ length: 10 }), () => rl.take("k")))
      assert.isTrue(decisions.every((d) => d._tag === "Allowed"))
    }).pipe(withConfig({ RATE_LIMIT_ENABLED: "false", RATE_LIMIT_CAPACITY: "1" }))
  )

  it.effect("refuses a capacity below one or a refill rate of zero", () =>
    Effect.gen(function* () {
      for (const config of [{ RATE_LIMIT_CAPACITY: "0" }, { RATE_LIMIT_REFILL_PER_SECOND: "0" }]) {
        const error = yield* RateLimiter.use((rl) => rl.take("k")).pipe(withConfig(config), Effect.flip)
        assert.strictEqual(error._tag, "ConfigError")
      }
    })
  )
})

describe.skipIf(redisUrl === undefined)("Redis adapter", () => {
  it.effect("shares buckets between nodes", () =>
    Effect.gen(function* () {
      const settings = { capacity: 10, refillPerSecond: 1, prefix }
      const first = yield* makeRedisRateLimiter(yield* acquireRedis(redisUrl!), settings)
      const second = yield* makeRedisRateLimiter(yield* acquireRedis(redisUrl!), settings)
      const key = `user:${randomUUID()}`
      const decisions = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? first : second)),
        (rl) => rl.take(key),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(decisions.filter((d) => d._tag === "Allowed").length, 10)
    })
  )

  it.effect("sends a subject's concurrent takes together, each decided as if it had gone alone", () =>
    Effect.gen(function* () {
      const redis = yield* acquireRedis(redisUrl!)
      // Counts the scripts this client sends (its own calls only: other test files share the Redis).
      let scripts = 0
      const evalsha = redis.evalsha.bind(redis)
      redis.evalsha = ((...args: Parameters<typeof evalsha>) => {
        scripts++
        return evalsha(...args)
      }) as typeof redis.evalsha
      const rl = yield* makeRedisRateLimiter(redis, { capacity: 20, refillPerSecond: 0.001, prefix })
      const key = `user:${randomUUID()}`
      const decisions = yield* Effect.forEach(Array.from({ length: 50 }), () => rl.take(key), {
        concurrency: "unbounded"
      })
      const allowed = decisions.flatMap((d) => (d._tag === "Allowed" ? [d.remaining] : []))
      // Exactly the capacity, and the remaining counts a one-at-a-time run would give: 19 down to 0, once each.
      assert.deepStrictEqual(
        [...allowed].sort((a, b) => b - a),
        Array.from({ length: 20 }, (_, i) => 19 - i)
      )
      assert.isTrue(
        decisions.slice(20).every((d) => d._tag === "Limited"),
        "the later takes are the limited ones"
      )
      assert.isAtMost(scripts, 3, `${scripts} scripts for 50 concurrent takes`)
      // And alone, one script each: nothing waits for nothing.
      const before = scripts
      yield* rl.take(`user:${randomUUID()}`)
      yield* rl.take(`user:${randomUUID()}`)
      assert.strictEqual(scripts - before, 2)
    })
  )

  it.effect("stores a bucket under the prefix and lets it expire once it would be full", () =>
    Effect.gen(function* () {
      const redis = yield* acquireRedis(redisUrl!)
      const rl = yield* makeRedisRateLimiter(redis, { capacity: 10, refillPerSecond: 5, prefix })
      const key = `user:${randomUUID()}`
      yield* rl.take(key)
      yield* rl.take(key)
      const ttl = yield* Effect.promise(() => redis.pttl(prefix + key))
      // Two tokens short refill in 400 ms; a second of slack on top.
      assert.isAbove(ttl, 1_000)
      assert.isAtMost(ttl, 1_400)
    })
  )

  it.effect("loads its script again after Redis forgets it", () =>
    Effect.gen(function* () {
      const redis = yield* acquireRedis(redisUrl!)
      const rl = yield* makeRedisRateLimiter(redis, { capacity: 2, refillPerSecond: 1, prefix })
      const key = `user:${randomUUID()}`
      yield* rl.take(key)
      yield* Effect.promise(() => redis.script("FLUSH"))
      const decisions = yield* Effect.forEach([1, 2], () => rl.take(key))
      assert.deepStrictEqual(
        decisions.map((d) => d._tag),
        ["Allowed", "Limited"]
      )
    })
  )
})

describe("Redis adapter when Redis is down", () => {
  it.live("fails open: allows the request and logs a warning", () =>
    Effect.gen(function* () {
      const dead = new Redis("redis://127.0.0.1:1", { ...redisClientOptions, lazyConnect: true })
      dead.on("error", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => dead.disconnect()))
      const rl = yield* makeRedisRateLimiter(dead, { capacity: 1, refillPerSecond: 1, prefix })
      const warnings: Array<string> = []
      const capture = Logger.make((options) => {
        if (options.logLevel === "Warn") warnings.push(String(options.message))
      })
      const decisions = yield* Effect.forEach([1, 2, 3], () => rl.take("user:1")).pipe(
        Effect.provide(Logger.layer([capture]))
      )
      // Capacity 1, yet all three pass: the limiter is open while Redis is down.
      assert.isTrue(decisions.every((d) => d._tag === "Allowed"))
      // One warning, not one per request.
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "Redis failed")
    })
  )
})
