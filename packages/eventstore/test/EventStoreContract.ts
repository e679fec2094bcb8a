/**
 * The event store contract: one suite, run against every adapter. Each test
 * works on streams of its own (random ids), so the tests share one store.
 */

import { randomUUID } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, type Layer, Metric, Option, Schedule, Stream } from "effect"
import {
  type AppendError,
  EventStore,
  EventStoreMetrics,
  ExpectedVersion,
  type NewEvent,
  type RecordedEvent,
  SnapshotStore
} from "../src/index.ts"

export const streamId = (type = "order") => `${type}-${randomUUID()}`

export const newEvent = (type: string, data: unknown = { n: 1 }, metadata?: NewEvent["metadata"]): NewEvent => ({
  eventId: randomUUID(),
  type,
  data,
  ...(metadata === undefined ? {} : { metadata })
})

const events = (n: number, type = "Happened") => Array.from({ length: n }, (_, i) => newEvent(type, { i }))

/** Collects `count` events from a subscription stream, failing the test after 10 s. */
export const take = (stream: Stream.Stream<RecordedEvent, unknown>, count: number) =>
  stream.pipe(Stream.take(count), Stream.runCollect, Effect.timeout("10 seconds"))

export const eventStoreContract = <E>(adapter: string, storeLayer: Layer.Layer<EventStore | SnapshotStore, E>) =>
  layer(storeLayer, { excludeTestServices: true, timeout: "60 seconds" })(`EventStore contract: ${adapter}`, (it) => {
    it.effect("appends to a new stream and reads the events back in version order", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const id = streamId()
        const input = [
          newEvent("OrderPlaced", { total: 100 }, { correlationId: "c-1", causationId: "cmd-1" }),
          newEvent("OrderPaid", { amount: "1.00", nested: { ok: true } })
        ]
        const result = yield* store.append(id, ExpectedVersion.NoStream, input)
        assert.strictEqual(result.nextExpectedVersion, 2)
        assert.strictEqual(result.lastPosition - result.firstPosition, 1)
        assert.isFalse(result.replayed)
        const read = yield* store.readStream(id)
        assert.deepStrictEqual(
          read.map((e) => [e.version, e.type, e.eventId, e.data, e.streamType, e.streamId]),
          input.map((e, i) => [i + 1, e.type, e.eventId, e.data, "order", id])
        )
        assert.deepStrictEqual(read[0]!.metadata, { correlationId: "c-1", causationId: "cmd-1" })
        assert.deepStrictEqual(
          read.map((e) => e.position),
          [result.firstPosition, result.lastPosition]
        )
        assert.instanceOf(read[0]!.recordedAt, Date)
        assert.strictEqual(yield* store.streamVersion(id), 2)
      })
    )

    it.effect("an exact expected version appends when it matches and conflicts with the actual version when not", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const id = streamId()
        yield* store.append(id, ExpectedVersion.NoStream, events(2))
        const ok = yield* store.append(id, ExpectedVersion.exact(2), events(1))
        assert.strictEqual(ok.nextExpectedVersion, 3)
        const error = yield* store.append(id, ExpectedVersion.exact(2), events(1)).pipe(Effect.flip)
        assert.strictEqual(error._tag, "WrongExpectedVersion")
        assert.deepInclude(error, { streamId: id, expected: "2", actual: 3 })
        assert.strictEqual((yield* store.readStream(id)).length, 3)
      })
    )

    it.effect("NoStream, StreamExists and Any check existence or nothing", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const id = streamId()
        const exists = yield* store.append(id, ExpectedVersion.StreamExists, events(1)).pipe(Effect.flip)
        assert.deepInclude(exists, { _tag: "WrongExpectedVersion", actual: 0, expected: "StreamExists" })
        const zero = yield* store.append(id, ExpectedVersion.exact(0), events(1))
        assert.strictEqual(zero.nextExpectedVersion, 1)
        const noStream = yield* store.append(id, ExpectedVersion.NoStream, events(1)).pipe(Effect.flip)
        assert.deepInclude(noStream, { _tag: "WrongExpectedVersion", actual: 1, expected: "NoStream" })
        assert.strictEqual((yield* store.append(id, ExpectedVersion.StreamExists, events(1))).nextExpectedVersion, 2)
        assert.strictEqual((yield* store.append(id, ExpectedVersion.Any, events(2))).nextExpectedVersion, 4)
        assert.strictEqual((yield* store.append(streamId(), ExpectedVersion.Any, events(1))).nextExpectedVersion, 1)
      })
    )

    it.effect("retrying an append with the same event ids is a no-op that returns the first result", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const id = streamId()
        const batch = events(3)
        const first = yield* store.append(id, ExpectedVersion.NoStream, batch)
        yield* store.append(id, ExpectedVersion.exact(3), events(1))
        // The retry carries the expectation of the original call, which is stale by now.
        const retry = yield* store.append(id, ExpectedVersion.NoStream, batch)
        assert.deepStrictEqual(retry, { ...first, replayed: true })
        assert.strictEqual((yield* store.readStream(id)).length, 4)
      })
    )

    it.effect("counts the events written, not idempotent retries or rejected appends", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const appended = Effect.map(Metric.value(EventStoreMetrics.eventsAppended), (state) => state.count)
        const [a, b] = [streamId(), streamId()]
        const batch = events(3)
        const before = yield* appended
        yield* store.append(a, ExpectedVersion.NoStream, batch)
        yield* store.appendMulti([
          { streamId: a, expectedVersion: ExpectedVersion.NoStream, events: batch },
          { streamId: b, expectedVersion: ExpectedVersion.NoStream, events: events(2) }
        ])
        assert.strictEqual((yield* appended) - before, 5)
        yield* store.append(a, ExpectedVersion.NoStream, batch)
        yield* store.append(a, ExpectedVersion.NoStream, events(1)).pipe(Effect.flip)
        yield* store.append(b, ExpectedVersion.Any, [batch[0]!]).pipe(Effect.flip)
        assert.strictEqual((yield* appended) - before, 5)
      })
    )

    it.effect("an event id already used elsewhere is rejected and nothing is written", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const [a, b] = [streamId(), streamId()]
        const used = newEvent("Happened")
        yield* store.append(a, ExpectedVersion.NoStream, [used])
        const elsewhere = yield* store.append(b, ExpectedVersion.Any, [used]).pipe(Effect.flip)
        assert.deepInclude(elsewhere, { _tag: "DuplicateEventId", streamId: b })
        const partial = yield* store.append(a, ExpectedVersion.Any, [used, newEvent("Other")]).pipe(Effect.flip)
        assert.deepInclude(partial, { _tag: "DuplicateEventId", streamId: a })
        assert.strictEqual(yield* store.streamVersion(a), 1)
        assert.strictEqual(yield* store.streamVersion(b), 0)
      })
    )

    it.effect("malformed appends are rejected before anything is written", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const id = streamId()
        const reasons = yield* Effect.forEach(
          [
            // Each attempt, widened to one type for the list.
            store.append(id, ExpectedVersion.Any, []),
            store.append(id, ExpectedVersion.Any, [{ eventId: "not-a-uuid", type: "X", data: {} }]),
            store.append(id, ExpectedVersion.exact(-1), events(1)),
            store.appendMulti([]),
            store.appendMulti([
              { streamId: id, expectedVersion: ExpectedVersion.Any, events: events(1) },
              { streamId: id, expectedVersion: ExpectedVersion.Any, events: events(1) }
            ]),
            store.append(id, ExpectedVersion.Any, [{ eventId: randomUUID(), type: "X", data: undefined }])
          ],
          (attempt: Effect.Effect<unknown, AppendError>) => Effect.flip(attempt)
        )
        for (const error of reasons) assert.strictEqual(error._tag, "InvalidAppend")
        const shared = newEvent("X")
        const twice = yield* store.append(id, ExpectedVersion.Any, [shared, shared]).pipe(Effect.flip)
        assert.strictEqual(twice._tag, "InvalidAppend")
        assert.strictEqual(yield* store.streamVersion(id), 0)
      })
    )

    it.effect("a multi-stream append writes every stream or none", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const [a, b, c] = [streamId(), streamId("payment"), streamId("outbox")]
        yield* store.append(b, ExpectedVersion.NoStream, events(1))
        const failed = yield* store
          .appendMulti([
            { streamId: a, expectedVersion: ExpectedVersion.NoStream, events: events(2) },
            { streamId: b, expectedVersion: ExpectedVersion.NoStream, events: events(1) }
          ])
          .pipe(Effect.flip)
        assert.deepInclude(failed, { _tag: "WrongExpectedVersion", streamId: b, actual: 1 })
        assert.strictEqual(yield* store.streamVersion(a), 0)
        assert.strictEqual(yield* store.streamVersion(b), 1)

        const written = yield* store.appendMulti([
          { streamId: a, expectedVersion: ExpectedVersion.NoStream, events: events(2) },
          { streamId: b, expectedVersion: ExpectedVersion.exact(1), events: events(1) },
          { streamId: c, expectedVersion: ExpectedVersion.Any, events: events(1) }
        ])
        assert.deepStrictEqual(
          written.map((r) => [r.streamId, r.nextExpectedVersion]),
          [
            [a, 2],
            [b, 2],
            [c, 1]
          ]
        )
        // One transaction: the positions of the three streams are contiguous.
        assert.strictEqual(written[2]!.lastPosition - written[0]!.firstPosition, 3)
        assert.deepStrictEqual((yield* store.readStream(c))[0]?.streamType, "outbox")
      })
    )

    it.effect("readStream honours fromVersion and maxCount", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const id = streamId()
        yield* store.append(id, ExpectedVersion.NoStream, events(10))
        const page = yield* store.readStream(id, { fromVersion: 4, maxCount: 3 })
        assert.deepStrictEqual(
          page.map((e) => e.version),
          [4, 5, 6]
        )
        assert.deepStrictEqual(yield* store.readStream(streamId()), [])
        assert.strictEqual((yield* store.readStream(id, { fromVersion: 11 })).length, 0)
      })
    )

    it.effect("readAll returns the log in dense position order, in pages", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const head = yield* store.headPosition
        const [a, b] = [streamId(), streamId()]
        yield* store.append(a, ExpectedVersion.NoStream, events(3))
        yield* store.append(b, ExpectedVersion.NoStream, events(2))
        yield* store.append(a, ExpectedVersion.exact(3), events(1))
        const first = yield* store.readAll({ after: head, limit: 4 })
        const rest = yield* store.readAll({ after: first.at(-1)!.position, limit: 100 })
        const mine = [...first, ...rest].filter((e) => e.streamId === a || e.streamId === b)
        assert.deepStrictEqual(
          mine.map((e) => `${e.streamId === a ? "a" : "b"}${e.version}`),
          ["a1", "a2", "a3", "b1", "b2", "a4"]
        )
        const positions = [...first, ...rest].map((e) => e.position)
        assert.deepStrictEqual(
          positions,
          positions.map((_, i) => head + 1 + i)
        )
        assert.isAtLeast(yield* store.headPosition, head + 6)
      })
    )

    it.effect("50 concurrent appends at the same expected version: exactly one wins", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const id = streamId()
        yield* store.append(id, ExpectedVersion.NoStream, events(1))
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 50 }, () => events(1)),
          (batch) => Effect.result(store.append(id, ExpectedVersion.exact(1), batch)),
          { concurrency: "unbounded" }
        )
        const wins = outcomes.filter((o) => o._tag === "Success")
        const conflicts = outcomes.filter((o) => o._tag === "Failure" && o.failure._tag === "WrongExpectedVersion")
        assert.strictEqual(wins.length, 1)
        assert.strictEqual(conflicts.length, 49)
        for (const c of conflicts) if (c._tag === "Failure") assert.deepInclude(c.failure, { actual: 2 })
        assert.strictEqual(yield* store.streamVersion(id), 2)
      })
    )

    it.effect("a subscription catches up, then receives events as they are appended", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const head = yield* store.headPosition
        const id = streamId()
        yield* store.append(id, ExpectedVersion.NoStream, events(3))
        const fiber = yield* Effect.forkChild(
          take(
            store
              .subscribe({ name: `live-${id}`, from: { after: head }, batchSize: 2 })
              .pipe(Stream.filter((e) => e.streamId === id)),
            5
          )
        )
        yield* Effect.sleep("50 millis")
        yield* store.append(id, ExpectedVersion.exact(3), events(2))
        const seen = yield* Fiber.join(fiber)
        assert.deepStrictEqual(
          seen.map((e) => e.version),
          [1, 2, 3, 4, 5]
        )
      })
    )

    it.effect("consume moves the checkpoint with each batch and resumes after it", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const name = `consumer-${randomUUID()}`
        const head = yield* store.headPosition
        yield* store.saveCheckpoint(name, head)
        const id = streamId()
        const appended = yield* store.append(id, ExpectedVersion.NoStream, events(5))
        const handled: Array<RecordedEvent> = []
        const first = yield* Effect.forkChild(
          store.consume({ name, batchSize: 2 }, (batch) => Effect.sync(() => handled.push(...batch)))
        )
        // The handler runs inside the batch's transaction: an event is handled for good once the checkpoint
        // committed past it (interrupted before that, its batch is rolled back and delivered again).
        let committed = 0
        while (committed < appended.lastPosition) {
          yield* Effect.sleep("10 millis")
          committed = yield* store.loadCheckpoint(name)
        }
        yield* Fiber.interrupt(first)
        assert.strictEqual(yield* store.loadCheckpoint(name), handled.at(-1)!.position)

        yield* store.append(id, ExpectedVersion.exact(5), events(2))
        const second = yield* Effect.forkChild(
          store.consume({ name, batchSize: 2 }, (batch) => Effect.sync(() => handled.push(...batch)))
        )
        yield* waitUntil(() => handled.filter((e) => e.streamId === id).length >= 7)
        yield* Effect.sleep("100 millis")
        yield* Fiber.interrupt(second)
        assert.deepStrictEqual(
          handled.filter((e) => e.streamId === id).map((e) => e.version),
          [1, 2, 3, 4, 5, 6, 7]
        )
      })
    )

    for (const how of ["consume", "follow"] as const) {
      it.effect(
        `${how} with \`relevant\` hands over only those events, and its checkpoint passes the others when idle`,
        () =>
          Effect.gen(function* () {
            const store = yield* EventStore
            const name = `relevant-${how}-${randomUUID()}`
            const head = yield* store.headPosition
            yield* store.saveCheckpoint(name, head)
            const id = streamId()
            const other = streamId()
            const relevant = (event: RecordedEvent) => event.streamId === id
            const run = (handled: Array<ReadonlyArray<RecordedEvent>>) =>
              store[how]({ name, batchSize: 3, relevant }, (batch) => Effect.sync(() => handled.push(batch)))
            yield* store.append(other, ExpectedVersion.NoStream, events(4))
            yield* store.append(id, ExpectedVersion.NoStream, events(2))
            const tail = yield* store.append(other, ExpectedVersion.exact(4), events(5))
            const handled: Array<ReadonlyArray<RecordedEvent>> = []
            const first = yield* Effect.forkChild(run(handled))
            // The events nobody acts on are passed once the consumer caught up and nothing came for a moment.
            yield* waitUntilEffect(Effect.map(store.loadCheckpoint(name), (at) => at >= tail.lastPosition))
            yield* Fiber.interrupt(first)
            assert.isTrue(handled.every((batch) => batch.length > 0 && batch.every(relevant)))
            assert.deepStrictEqual(
              handled.flat().map((e) => e.version),
              [1, 2]
            )
            // Resumed: only what is new and relevant.
            yield* store.append(other, ExpectedVersion.exact(9), events(2))
            yield* store.append(id, ExpectedVersion.exact(2), events(1))
            const again: Array<ReadonlyArray<RecordedEvent>> = []
            const second = yield* Effect.forkChild(run(again))
            yield* waitUntil(() => again.length > 0)
            yield* Fiber.interrupt(second)
            assert.deepStrictEqual(
              again.flat().map((e) => [e.streamId, e.version]),
              [[id, 3]]
            )
          })
      )
    }

    it.effect("snapshots: the latest wins, an older one is ignored, a new schema version replaces", () =>
      Effect.gen(function* () {
        const snapshots = yield* SnapshotStore
        const id = streamId()
        assert.isTrue(Option.isNone(yield* snapshots.load(id)))
        yield* snapshots.save({ streamId: id, version: 10, schemaVersion: 1, data: { balance: 10 } })
        yield* snapshots.save({ streamId: id, version: 5, schemaVersion: 1, data: { balance: 5 } })
        assert.deepStrictEqual(
          yield* snapshots.load(id),
          Option.some({ streamId: id, version: 10, schemaVersion: 1, data: { balance: 10 } })
        )
        yield* snapshots.save({ streamId: id, version: 20, schemaVersion: 1, data: { balance: 20 } })
        yield* snapshots.save({ streamId: id, version: 3, schemaVersion: 2, data: { v2: true } })
        assert.deepStrictEqual(
          yield* snapshots.load(id),
          Option.some({ streamId: id, version: 3, schemaVersion: 2, data: { v2: true } })
        )
      })
    )
  })

/** Polls a condition every 10 ms, for at most 10 s. */
export const waitUntil = (condition: () => boolean) => waitUntilEffect(Effect.sync(condition))

/** Waits until `condition` succeeds with true (polling every 10 ms, for at most about 10 s). */
export const waitUntilEffect = <E>(condition: Effect.Effect<boolean, E>) =>
  condition.pipe(
    Effect.flatMap((done) => (done ? Effect.void : Effect.fail("not yet" as const))),
    Effect.retry({ times: 1000, schedule: Schedule.spaced("10 millis") }),
    Effect.orDie
  )
