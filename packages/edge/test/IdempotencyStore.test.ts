import { randomUUID } from "node:crypto"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { type BeginOutcome, type IdempotencyScope, IdempotencyStore, requestHash } from "../src/index.ts"

/** Runs `effect` with the clock moved forward, so leases and retention run out without waiting. */
const later =
  (by: Duration.Input) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Clock.clockWith((live) => {
      const ms = Duration.toMillis(by)
      const shifted: Clock.Clock = {
        currentTimeMillisUnsafe: () => live.currentTimeMillisUnsafe() + ms,
        currentTimeMillis: Effect.map(live.currentTimeMillis, (t) => t + ms),
        currentTimeNanosUnsafe: () => live.currentTimeNanosUnsafe() + BigInt(ms) * 1_000_000n,
        currentTimeNanos: Effect.map(live.currentTimeNanos, (t) => t + BigInt(ms) * 1_000_000n),
        monotonicTimeNanosUnsafe: () => live.monotonicTimeNanosUnsafe(),
        monotonicTimeNanos: live.monotonicTimeNanos,
        sleep: (d) => live.sleep(d)
      }
      return Effect.provideService(effect, Clock.Clock, shifted)
    })

const scopeOf = (subject = `user:${randomUUID()}`): IdempotencyScope => ({ subject, route: "POST /api/orders" })
const bodyA = requestHash({ path: "/api/orders", body: '{"items":[{"sku":"A","quantity":1}]}' })
const bodyB = requestHash({ path: "/api/orders", body: '{"items":[{"sku":"A","quantity":2}]}' })
const created = { status: 202, headers: { "content-type": "application/json" }, body: '{"id":"o-1"}' }

const started = (outcome: BeginOutcome) => {
  assert.strictEqual(outcome._tag, "Started")
  return outcome as Extract<BeginOutcome, { _tag: "Started" }>
}

layer(
  IdempotencyStore.layer({ purgeEvery: "never" }).pipe(
    Layer.provideMerge(TestDatabase.layer("idempotency", { maxConnections: 20 })),
    Layer.orDie
  ),
  { excludeTestServices: true }
)("IdempotencyStore on PostgreSQL", (it) => {
  it.effect("replays the stored response for the same key and request", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const scope = scopeOf()
      const key = randomUUID()
      const first = started(yield* store.begin({ scope, key, requestHash: bodyA }))
      yield* store.complete({ ...first, response: created })
      const again = yield* store.begin({ scope, key, requestHash: bodyA })
      assert.deepStrictEqual(again._tag === "Replay" && { ...again }, { _tag: "Replay", ...created })
    })
  )

  it.effect("answers Mismatch for the same key with a different request, in flight or completed", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const scope = scopeOf()
      const key = randomUUID()
      const first = started(yield* store.begin({ scope, key, requestHash: bodyA }))
      assert.strictEqual((yield* store.begin({ scope, key, requestHash: bodyB }))._tag, "Mismatch")
      yield* store.complete({ ...first, response: created })
      assert.strictEqual((yield* store.begin({ scope, key, requestHash: bodyB }))._tag, "Mismatch")
    })
  )

  it.effect("answers InFlight while the first request holds the key", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const scope = scopeOf()
      const key = randomUUID()
      started(yield* store.begin({ scope, key, requestHash: bodyA }))
      assert.strictEqual((yield* store.begin({ scope, key, requestHash: bodyA }))._tag, "InFlight")
      assert.strictEqual((yield* later("59 seconds")(store.begin({ scope, key, requestHash: bodyA })))._tag, "InFlight")
    })
  )

  it.effect("scopes keys per subject and per route", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const key = randomUUID()
      const ann = scopeOf()
      started(yield* store.begin({ scope: ann, key, requestHash: bodyA }))
      started(yield* store.begin({ scope: scopeOf(), key, requestHash: bodyA }))
      started(yield* store.begin({ scope: { ...ann, route: "POST /api/accounts/me/top-up" }, key, requestHash: bodyA }))
    })
  )

  it.effect("gives exactly one of 50 concurrent requests with one key the key", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const scope = scopeOf()
      const key = randomUUID()
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => store.begin({ scope, key, requestHash: i % 2 === 0 ? bodyA : bodyB }),
        { concurrency: "unbounded" }
      )
      const tags = outcomes.map((o) => o._tag)
      assert.strictEqual(tags.filter((t) => t === "Started").length, 1)
      assert.strictEqual(tags.filter((t) => t === "InFlight").length + tags.filter((t) => t === "Mismatch").length, 49)
      assert.strictEqual(tags.filter((t) => t === "Mismatch").length, 25)
    })
  )

  it.effect("gives exactly one of 50 concurrent takeovers of an expired lease the key", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const scope = scopeOf()
      const key = randomUUID()
      started(yield* store.begin({ scope, key, requestHash: bodyA }))
      const outcomes = yield* later("61 seconds")(
        Effect.forEach(Array.from({ length: 50 }), () => store.begin({ scope, key, requestHash: bodyA }), {
          concurrency: "unbounded"
        })
      )
      assert.deepStrictEqual(
        outcomes.map((o) => o._tag).sort(),
        ["Started", ...Array.from({ length: 49 }, () => "InFlight")].sort()
      )
    })
  )

  it.effect("frees an abandoned key, so the retry runs (even with another body)", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const scope = scopeOf()
      const key = randomUUID()
      const first = started(yield* store.begin({ scope, key, requestHash: bodyA }))
      yield* store.abandon(first)
      const retry = started(yield* store.begin({ scope, key, requestHash: bodyA }))
      yield* store.abandon(retry)
      started(yield* store.begin({ scope, key, requestHash: bodyB }))
    })
  )

  it.effect(
    "lets the same request take over a key whose owner's lease ran out; the former owner can no longer store",
    () =>
      Effect.gen(function* () {
        const store = yield* IdempotencyStore
        const scope = scopeOf()
        const key = randomUUID()
        const crashed = started(yield* store.begin({ scope, key, requestHash: bodyA }))
        // A different request never takes the key, even when the lease has run out.
        assert.strictEqual(
          (yield* later("61 seconds")(store.begin({ scope, key, requestHash: bodyB })))._tag,
          "Mismatch"
        )
        const retry = started(yield* later("61 seconds")(store.begin({ scope, key, requestHash: bodyA })))
        assert.notStrictEqual(retry.leaseId, crashed.leaseId)
        const lost = yield* store.complete({ ...crashed, response: { ...created, body: "stale" } }).pipe(Effect.flip)
        assert.strictEqual(lost._tag, "LeaseLost")
        yield* store.abandon(crashed) // no effect: the key is the retry's now
        assert.strictEqual(
          (yield* later("62 seconds")(store.begin({ scope, key, requestHash: bodyA })))._tag,
          "InFlight"
        )
        yield* store.complete({ ...retry, response: created })
        const replay = yield* store.begin({ scope, key, requestHash: bodyA })
        assert.strictEqual(replay._tag === "Replay" && replay.body, created.body)
      })
  )

  it.effect("keeps a key 24 hours, then treats it as unused", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const scope = scopeOf()
      const key = randomUUID()
      yield* store.complete({ ...started(yield* store.begin({ scope, key, requestHash: bodyA })), response: created })
      const dayLater = later(Duration.sum(Duration.hours(23), Duration.minutes(59)))
      assert.strictEqual((yield* dayLater(store.begin({ scope, key, requestHash: bodyA })))._tag, "Replay")
      assert.strictEqual((yield* dayLater(store.begin({ scope, key, requestHash: bodyB })))._tag, "Mismatch")
      started(yield* later("24 hours")(store.begin({ scope, key, requestHash: bodyB })))
    })
  )

  it.effect("purges expired keys and keeps the others", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const sql = yield* SqlClient.SqlClient
      const scope = scopeOf()
      const old = Array.from({ length: 3 }, () => randomUUID())
      for (const key of old) yield* later("-25 hours")(store.begin({ scope, key, requestHash: bodyA }))
      const fresh = randomUUID()
      yield* store.begin({ scope, key: fresh, requestHash: bodyA })
      assert.isAtLeast(yield* store.purgeExpired, 3)
      const left = yield* sql<{ key: string }>`SELECT key FROM idempotency_keys WHERE subject = ${scope.subject}`
      assert.deepStrictEqual(
        left.map((r) => r.key),
        [fresh]
      )
    })
  )

  it.effect("refuses keys that are empty, longer than 255 characters or not printable ASCII", () =>
    Effect.gen(function* () {
      const store = yield* IdempotencyStore
      const scope = scopeOf()
      for (const key of ["", "k".repeat(256), "line\nbreak", "ключ"]) {
        const error = yield* store.begin({ scope, key, requestHash: bodyA }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "InvalidIdempotencyKey")
      }
      started(yield* store.begin({ scope, key: "k".repeat(255), requestHash: bodyA }))
    })
  )

  it.effect("starts again on a database it has migrated already (a second node)", () =>
    Effect.gen(function* () {
      const scope = scopeOf()
      const key = randomUUID()
      const first = started(yield* IdempotencyStore.use((s) => s.begin({ scope, key, requestHash: bodyA })))
      const other = Context.get(yield* Layer.build(IdempotencyStore.layer({ purgeEvery: "never" })), IdempotencyStore)
      assert.strictEqual((yield* other.begin({ scope, key, requestHash: bodyA }))._tag, "InFlight")
      yield* other.abandon(first)
      started(yield* other.begin({ scope, key, requestHash: bodyA }))
    })
  )
})
