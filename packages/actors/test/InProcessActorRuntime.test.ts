import { randomUUID } from "node:crypto"
import { fold } from "@agora/domain"
import { EventStore, ExpectedVersion, PgEventStore, SnapshotStore, Uuid } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { ActorRuntime, InProcessActorRuntime, part } from "../src/index.ts"
import { Counter, type CounterEvent, increment } from "./fixtures/Counter.ts"

/** A runtime and its own event store instance: what a second process would have; its reads are counted. */
const processOn = (options: InProcessActorRuntime.Options = {}) =>
  Effect.gen(function* () {
    const { eventStore, snapshotStore } = yield* PgEventStore.make()
    const reads = { streams: 0, snapshots: 0 }
    const counted = EventStore.of({
      ...eventStore,
      readStream: (id, readOptions) =>
        Effect.suspend(() => {
          reads.streams++
          return eventStore.readStream(id, readOptions)
        })
    })
    const countedSnapshots = SnapshotStore.of({
      ...snapshotStore,
      load: (id) =>
        Effect.suspend(() => {
          reads.snapshots++
          return snapshotStore.load(id)
        })
    })
    const runtime = yield* InProcessActorRuntime.make(options).pipe(
      Effect.provideService(EventStore, counted),
      Effect.provideService(SnapshotStore, countedSnapshots)
    )
    return { runtime, eventStore, snapshotStore, reads }
  })

const storedCount = (eventStore: EventStore["Service"], id: string) =>
  Effect.map(eventStore.readStream(`counter-${id}`), (events) =>
    fold(
      Counter,
      Counter.initialState,
      events.map((e) => ({ ...(e.data as object), _tag: e.type }) as CounterEvent)
    )
  )

layer(TestDatabase.layer("actors", { maxConnections: 20 }), { excludeTestServices: true, timeout: "120 seconds" })(
  "InProcessActorRuntime on PostgreSQL",
  (it) => {
    it.effect("1,000 concurrent commands to one actor run one at a time, with no conflict surfaced", () =>
      Effect.gen(function* () {
        const { runtime, eventStore } = yield* processOn()
        const id = randomUUID()
        const results = yield* Effect.forEach(
          Array.from({ length: 1000 }),
          () => runtime.send(Counter, id, increment()),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(
          results.map((r) => r.version).sort((a, b) => a - b),
          Array.from({ length: 1000 }, (_, i) => i + 1)
        )
        assert.strictEqual((yield* runtime.state(Counter, id)).state.count, 1000)
        assert.strictEqual((yield* storedCount(eventStore, id)).count, 1000)
      })
    )

    it.effect("commands decided in one batch see each other: a rejection mid-batch does not stop the rest", () =>
      Effect.gen(function* () {
        const { runtime, eventStore } = yield* processOn()
        const id = randomUUID()
        yield* runtime.send(Counter, id, { _tag: "SetLimit", limit: 5 })
        const outcomes = yield* Effect.forEach(
          [1, 1, 3, 1, 1, 1, 1],
          (by) => Effect.result(runtime.send(Counter, id, increment(by))),
          { concurrency: "unbounded" }
        )
        const applied = outcomes.filter((o) => o._tag === "Success")
        const rejected = outcomes.filter((o) => o._tag === "Failure")
        for (const o of rejected) if (o._tag === "Failure") assert.strictEqual(o.failure._tag, "OverLimit")
        const total = applied.reduce((sum, o) => sum + (o._tag === "Success" ? o.success.events.length : 0), 0)
        assert.strictEqual(yield* eventStore.streamVersion(`counter-${id}`), 1 + total)
        assert.strictEqual((yield* runtime.state(Counter, id)).state.count, 5)
        // Each result carries the version and position of its own last event.
        const versions = applied.map((o) => (o._tag === "Success" ? o.success.version : 0)).sort((a, b) => a - b)
        assert.deepStrictEqual(
          versions,
          Array.from({ length: applied.length }, (_, i) => i + 2)
        )
        const stored = yield* eventStore.readStream(`counter-${id}`)
        for (const o of applied) {
          if (o._tag === "Success") assert.strictEqual(stored[o.success.version - 1]?.position, o.success.position)
        }
      })
    )

    it.effect("two processes hammering one stream lose no update: the final state is the sequential fold", () =>
      Effect.gen(function* () {
        const first = yield* processOn({ maxAttempts: 100 })
        const second = yield* processOn({ maxAttempts: 100 })
        const id = randomUUID()
        const sends = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? first : second))
        const outcomes = yield* Effect.forEach(
          sends,
          (p, i) => Effect.result(p.runtime.send(Counter, id, increment(i + 1))),
          { concurrency: "unbounded" }
        )
        // No lost update: the stream holds exactly the increments whose commands succeeded.
        const applied = outcomes.flatMap((o, i) => (o._tag === "Success" ? [i + 1] : []))
        const expected = applied.reduce((a, b) => a + b, 0)
        for (const o of outcomes) if (o._tag === "Failure") assert.strictEqual(o.failure._tag, "ConcurrencyConflict")
        assert.isAtLeast(applied.length, 390)
        assert.strictEqual((yield* storedCount(first.eventStore, id)).count, expected)
        const fresh = yield* processOn()
        assert.deepStrictEqual(yield* fresh.runtime.state(Counter, id), {
          state: { count: expected, limit: Number.MAX_SAFE_INTEGER },
          version: applied.length
        })
        // Each runtime's next command catches up with the other's writes.
        const next = yield* first.runtime.send(Counter, id, increment())
        assert.strictEqual(next.state.count, expected + 1)
      })
    )

    it.effect("a refusal, a no-op or a read on a cell another process wrote behind is checked against the stream", () =>
      Effect.gen(function* () {
        // The API tops an account up while the saga's process holds its cell; the saga's next debit must see it.
        const saga = yield* processOn({ cellsMayBeStale: true })
        const api = yield* processOn({ cellsMayBeStale: true })
        const id = randomUUID()
        yield* saga.runtime.send(Counter, id, { _tag: "SetLimit", limit: 2 })
        yield* saga.runtime.send(Counter, id, increment(2))
        // Raised elsewhere: the saga's cell still says 2.
        yield* api.runtime.send(Counter, id, { _tag: "SetLimit", limit: 5 })
        const accepted = yield* saga.runtime.send(Counter, id, increment(3))
        assert.deepStrictEqual([accepted.state, accepted.version], [{ count: 5, limit: 5 }, 4])
        // A no-op decided on a stale cell is checked too: the limit is 9 now, so setting 5 again is a change.
        yield* api.runtime.send(Counter, id, { _tag: "SetLimit", limit: 9 })
        const reset = yield* saga.runtime.send(Counter, id, { _tag: "SetLimit", limit: 5 })
        assert.deepStrictEqual([reset.events.length, reset.version], [1, 6])
        // And a read answers the stream's head, not the cell (the API's still says 9).
        assert.deepStrictEqual(yield* api.runtime.state(Counter, id), { state: { count: 5, limit: 5 }, version: 6 })
        // Without the check (a runtime that is the only writer), the stale cell's refusal would stand.
        const alone = yield* processOn()
        const other = yield* processOn()
        const id2 = randomUUID()
        yield* alone.runtime.send(Counter, id2, { _tag: "SetLimit", limit: 1 })
        yield* alone.runtime.send(Counter, id2, increment())
        yield* other.runtime.send(Counter, id2, { _tag: "SetLimit", limit: 5 })
        const stale = yield* alone.runtime.send(Counter, id2, increment()).pipe(Effect.flip)
        assert.deepInclude(stale, { _tag: "OverLimit", count: 1, limit: 1 })
      })
    )

    it.effect("reads checked against the stream, interleaved with commands, never fold an event twice", () =>
      Effect.gen(function* () {
        const { runtime, eventStore } = yield* processOn({ cellsMayBeStale: true })
        const id = randomUUID()
        yield* runtime.send(Counter, id, increment())
        // Reads queue behind running batches for the cell's permit; each catches up from where the cell is then.
        yield* Effect.forEach(
          Array.from({ length: 300 }, (_, i) => i),
          (i) => (i % 2 === 0 ? runtime.send(Counter, id, increment()) : runtime.state(Counter, id)),
          { concurrency: "unbounded", discard: true }
        )
        const held = yield* runtime.state(Counter, id)
        const stored = yield* storedCount(eventStore, id)
        assert.deepStrictEqual([held.state.count, held.version], [stored.count, 151])
        assert.strictEqual(stored.count, 151)
      })
    )

    it.effect("an instance expected new is not read first; when the guess is wrong, what is stored decides", () =>
      Effect.gen(function* () {
        const { runtime, reads } = yield* processOn({ cellsMayBeStale: true })
        const fresh = randomUUID()
        const first = yield* runtime.send(Counter, fresh, increment(2), { expectNew: true })
        assert.deepStrictEqual([first.state.count, first.version], [2, 1])
        assert.deepStrictEqual(reads, { streams: 0, snapshots: 0 })

        // Wrong guesses, against instances another process wrote: an append conflicts, and is decided again.
        const other = yield* processOn()
        const written = randomUUID()
        yield* other.runtime.send(Counter, written, increment(5))
        const appended = yield* runtime.send(Counter, written, increment(), { expectNew: true })
        assert.deepStrictEqual([appended.state.count, appended.version], [6, 2])
        // A refusal decided on the empty state is checked against the stream: here it accepts.
        const limited = randomUUID()
        yield* other.runtime.send(Counter, limited, { _tag: "SetLimit", limit: 3 })
        yield* other.runtime.send(Counter, limited, increment(3))
        const refused = yield* runtime.send(Counter, limited, increment(), { expectNew: true }).pipe(Effect.flip)
        assert.deepInclude(refused, { _tag: "OverLimit", count: 3, limit: 3 })
        // A no-op decided on the empty state is checked too: the stored limit is 3, so "no limit" is a change.
        const unlimited = yield* runtime.send(
          Counter,
          limited,
          { _tag: "SetLimit", limit: Number.MAX_SAFE_INTEGER },
          { expectNew: true }
        )
        assert.deepStrictEqual([unlimited.events.length, unlimited.version], [1, 3])
        // In a transaction of several instances, per part.
        const together = randomUUID()
        yield* other.runtime.send(Counter, together, increment(4))
        const [old, created] = yield* runtime.sendTogether([
          part(Counter, together, increment(), { expectNew: true }),
          part(Counter, randomUUID(), increment(7), { expectNew: true })
        ])
        assert.deepStrictEqual([old.state.count, old.version, created.state.count, created.version], [5, 2, 7, 1])
      })
    )

    it.effect("a read that accepts a stale state is answered from memory; others catch the cell up first", () =>
      Effect.gen(function* () {
        const { runtime, reads } = yield* processOn({ cellsMayBeStale: true })
        const other = yield* processOn()
        const id = randomUUID()
        yield* runtime.send(Counter, id, { _tag: "SetLimit", limit: 10 })
        yield* other.runtime.send(Counter, id, increment(4))
        const before = reads.streams
        const limitOnly = yield* runtime.state(Counter, id, { acceptStale: (state) => state.limit === 10 })
        assert.deepStrictEqual(
          [limitOnly.state, limitOnly.version, reads.streams],
          [{ count: 0, limit: 10 }, 1, before]
        )
        const current = yield* runtime.state(Counter, id, { acceptStale: () => false })
        assert.deepStrictEqual(
          [current.state, current.version, reads.streams],
          [{ count: 4, limit: 10 }, 2, before + 1]
        )
      })
    )

    it.effect("an idle actor is passivated and reactivates from its snapshot with the same state", () =>
      Effect.gen(function* () {
        const { runtime, snapshotStore } = yield* processOn({ snapshotEvery: 10, idleTimeout: "200 millis" })
        const id = randomUUID()
        yield* runtime.send(Counter, id, { _tag: "SetLimit", limit: 1000 })
        for (let i = 1; i <= 24; i++) yield* runtime.send(Counter, id, increment(i))
        const before = yield* runtime.state(Counter, id)
        const snapshot = yield* snapshotStore.load(`counter-${id}`)
        assert.isTrue(Option.isSome(snapshot))
        assert.strictEqual(Option.getOrThrow(snapshot).version, 20)
        yield* Effect.sleep("600 millis")
        assert.strictEqual(yield* runtime.residentCount, 0)
        const after = yield* runtime.state(Counter, id)
        assert.deepStrictEqual(after, before)
        assert.deepStrictEqual(after, { state: { count: 300, limit: 1000 }, version: 25 })
      })
    )

    it.effect("over the memory bound the least recently used idle actors are dropped, and come back intact", () =>
      Effect.gen(function* () {
        const { runtime } = yield* processOn({ maxResident: 10 })
        const ids = Array.from({ length: 50 }, () => randomUUID())
        yield* Effect.forEach(ids, (id, i) => runtime.send(Counter, id, increment(i + 1)), { concurrency: 8 })
        assert.isAtMost(yield* runtime.residentCount, 10)
        const states = yield* Effect.forEach(ids, (id) => runtime.state(Counter, id))
        assert.deepStrictEqual(
          states.map((s) => s.state.count),
          ids.map((_, i) => i + 1)
        )
      })
    )

    it.effect("a rejected command surfaces the domain's typed error and writes nothing", () =>
      Effect.gen(function* () {
        const { runtime, eventStore } = yield* processOn()
        const id = randomUUID()
        yield* runtime.send(Counter, id, { _tag: "SetLimit", limit: 2 })
        yield* runtime.send(Counter, id, increment(2))
        const error = yield* runtime.send(Counter, id, increment()).pipe(Effect.flip)
        assert.deepInclude(error, { _tag: "OverLimit", count: 2, limit: 2 })
        assert.strictEqual(yield* eventStore.streamVersion(`counter-${id}`), 2)
        const unchanged = yield* runtime.send(Counter, id, { _tag: "SetLimit", limit: 2 })
        assert.deepStrictEqual([unchanged.events.length, unchanged.version, unchanged.position], [0, 2, undefined])
      })
    )

    it.effect("a command retried with the same command id (say, after a crash) is applied once", () =>
      Effect.gen(function* () {
        const id = randomUUID()
        const commandId = randomUUID()
        const first = yield* processOn()
        const applied = yield* first.runtime.send(Counter, id, increment(5), { commandId })
        // A new process retries the same command: it decides it again, but its event ids exist.
        const second = yield* processOn()
        const retried = yield* second.runtime.send(Counter, id, increment(5), { commandId })
        assert.strictEqual(applied.version, 1)
        assert.strictEqual(retried.version, 1)
        assert.strictEqual(retried.state.count, 5)
        assert.strictEqual(yield* first.eventStore.streamVersion(`counter-${id}`), 1)
      })
    )

    it.effect("an actor that keeps losing the race gives up with ConcurrencyConflict", () =>
      Effect.gen(function* () {
        const { runtime, eventStore } = yield* processOn({ maxAttempts: 1 })
        const id = randomUUID()
        yield* runtime.send(Counter, id, increment())
        yield* eventStore.append(`counter-${id}`, ExpectedVersion.exact(1), [
          { eventId: Uuid.v7(), type: "Incremented", data: { by: 10 } }
        ])
        const error = yield* runtime.send(Counter, id, increment()).pipe(Effect.flip)
        assert.deepInclude(error, { _tag: "ConcurrencyConflict", streamId: `counter-${id}`, attempts: 1 })
        // It caught up while failing: the next command applies on top of the other writer's event.
        const next = yield* runtime.send(Counter, id, increment())
        assert.deepStrictEqual([next.state.count, next.version], [12, 3])
      })
    )

    it.effect("correlation and causation ids travel into the events' metadata", () =>
      Effect.gen(function* () {
        const { runtime, eventStore } = yield* processOn()
        const id = randomUUID()
        yield* runtime.send(Counter, id, increment(), { commandId: "cmd-1", correlationId: "req-1" })
        const [event] = yield* eventStore.readStream(`counter-${id}`)
        assert.deepStrictEqual(event?.metadata, { correlationId: "req-1", causationId: "cmd-1" })
        assert.strictEqual(event?.type, "Incremented")
        assert.deepStrictEqual(event?.data, { by: 1 })
      })
    )
  }
)

layer(
  InProcessActorRuntime.layer().pipe(
    Layer.provide(PgEventStore.layer()),
    Layer.provide(TestDatabase.layer("actors-layer")),
    Layer.orDie
  ),
  { excludeTestServices: true }
)("ActorRuntime layer", (it) => {
  it.effect("serves the port from the stores in context", () =>
    Effect.gen(function* () {
      const runtime = yield* ActorRuntime
      const result = yield* runtime.send(Counter, randomUUID(), increment(3))
      assert.deepStrictEqual([result.version, result.state.count, result.events.length], [1, 3, 1])
      assert.isNumber(result.position)
    })
  )
})
