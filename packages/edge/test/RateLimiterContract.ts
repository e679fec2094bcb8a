/**
 * The rate limiter contract: one suite, run against every adapter. Time is
 * the TestClock's, so refill is exact; each test uses buckets of its own.
 */
import { randomUUID } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, type Layer } from "effect"
import { TestClock } from "effect/testing"
import type { RateLimitDecision, RateLimiter, RateLimitSettings } from "../src/index.ts"

/** Builds a limiter of the adapter under test with the given settings. */
export class LimiterFactory extends Context.Service<
  LimiterFactory,
  { readonly make: (settings: RateLimitSettings) => Effect.Effect<RateLimiter["Service"]> }
>()("test/LimiterFactory") {}

const tags = (decisions: ReadonlyArray<RateLimitDecision>) => decisions.map((d) => d._tag)
const takeN = (limiter: RateLimiter["Service"], key: string, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => limiter.take(key))

export const rateLimiterContract = <E>(adapter: string, factory: Layer.Layer<LimiterFactory, E>) =>
  layer(factory)(`RateLimiter contract: ${adapter}`, (it) => {
    const limiter = (settings: RateLimitSettings) => LimiterFactory.use((f) => f.make(settings))

    it.effect("allows a burst up to the capacity, then limits", () =>
      Effect.gen(function* () {
        const rl = yield* limiter({ capacity: 5, refillPerSecond: 1 })
        const key = `user:${randomUUID()}`
        const burst = yield* takeN(rl, key, 5)
        assert.deepStrictEqual(
          burst.map((d) => d._tag === "Allowed" && d.remaining),
          [4, 3, 2, 1, 0]
        )
        const sixth = yield* rl.take(key)
        assert.deepStrictEqual({ ...sixth }, { _tag: "Limited", retryAfterSeconds: 1, limit: 5 })
      })
    )

    it.effect("refills at the configured rate, fractions included", () =>
      Effect.gen(function* () {
        const rl = yield* limiter({ capacity: 5, refillPerSecond: 2 })
        const key = `user:${randomUUID()}`
        yield* takeN(rl, key, 5)
        yield* TestClock.adjust("250 millis")
        assert.strictEqual((yield* rl.take(key))._tag, "Limited")
        yield* TestClock.adjust("250 millis") // half a token twice is one token
        assert.deepStrictEqual(tags(yield* takeN(rl, key, 2)), ["Allowed", "Limited"])
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(tags(yield* takeN(rl, key, 3)), ["Allowed", "Allowed", "Limited"])
      })
    )

    it.effect("never fills a bucket above its capacity", () =>
      Effect.gen(function* () {
        const rl = yield* limiter({ capacity: 3, refillPerSecond: 10 })
        const key = `user:${randomUUID()}`
        yield* rl.take(key)
        yield* TestClock.adjust("1 hour")
        assert.deepStrictEqual(tags(yield* takeN(rl, key, 4)), ["Allowed", "Allowed", "Allowed", "Limited"])
      })
    )

    it.effect("tells a limited client when a token will be there", () =>
      Effect.gen(function* () {
        const rl = yield* limiter({ capacity: 1, refillPerSecond: 0.25 })
        const key = `ip:${randomUUID()}`
        yield* rl.take(key)
        const limited = yield* rl.take(key)
        assert.strictEqual(limited._tag === "Limited" && limited.retryAfterSeconds, 4)
        yield* TestClock.adjust("2500 millis")
        const later = yield* rl.take(key)
        assert.strictEqual(later._tag === "Limited" && later.retryAfterSeconds, 2)
        yield* TestClock.adjust("1500 millis")
        assert.strictEqual((yield* rl.take(key))._tag, "Allowed")
      })
    )

    it.effect("reports the limit and the seconds until the bucket is full again", () =>
      Effect.gen(function* () {
        const rl = yield* limiter({ capacity: 10, refillPerSecond: 2 })
        const key = `user:${randomUUID()}`
        const first = yield* rl.take(key)
        assert.deepStrictEqual({ ...first }, { _tag: "Allowed", remaining: 9, limit: 10, resetSeconds: 1 })
        const fifth = (yield* takeN(rl, key, 4)).at(-1)!
        assert.deepStrictEqual({ ...fifth }, { _tag: "Allowed", remaining: 5, limit: 10, resetSeconds: 3 })
      })
    )

    it.effect("keeps one bucket per key", () =>
      Effect.gen(function* () {
        const rl = yield* limiter({ capacity: 2, refillPerSecond: 1 })
        const ann = `user:${randomUUID()}`
        const bob = `user:${randomUUID()}`
        yield* takeN(rl, ann, 2)
        assert.strictEqual((yield* rl.take(ann))._tag, "Limited")
        assert.deepStrictEqual(tags(yield* takeN(rl, bob, 3)), ["Allowed", "Allowed", "Limited"])
      })
    )

    it.effect("lets exactly the capacity through among concurrent takes", () =>
      Effect.gen(function* () {
        const rl = yield* limiter({ capacity: 20, refillPerSecond: 1 })
        const key = `user:${randomUUID()}`
        const decisions = yield* Effect.forEach(Array.from({ length: 50 }), () => rl.take(key), {
          concurrency: "unbounded"
        })
        assert.strictEqual(tags(decisions).filter((t) => t === "Allowed").length, 20)
      })
    )
  })
