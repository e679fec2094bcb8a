/**
 * What only the PostgreSQL adapter can get wrong: ordering across concurrent
 * transactions that commit out of order or roll back, wake-ups across
 * processes, and a consumer that stops or crashes mid-way.
 */

import { randomUUID } from "node:crypto"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Ref, Stream } from "effect"
import { SqlClient } from "effect/sql"
import fc from "fast-check"
import { ExpectedVersion, PgEventStore, type RecordedEvent } from "../src/index.ts"
import { newEvent, streamId, take, waitUntil } from "./EventStoreContract.ts"

const runs = Number(process.env.GAP_RUNS ?? 100)

interface Op {
  readonly inTransaction: boolean
  readonly delayMs: number
  readonly rollback: boolean
  readonly events: number
  readonly stream: number
  readonly viaSecondProcess: boolean
}

const op: fc.Arbitrary<Op> = fc.record({
  inTransaction: fc.boolean(),
  delayMs: fc.integer({ min: 0, max: 8 }),
  rollback: fc.boolean(),
  events: fc.integer({ min: 1, max: 3 }),
  stream: fc.integer({ min: 0, max: 5 }),
  viaSecondProcess: fc.boolean()
})
const scenario = fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 8, maxLength: 8 })

class RolledBack {
  readonly _tag = "RolledBack"
}

layer(TestDatabase.layer("ordering", { maxConnections: 20 }), { excludeTestServices: true, timeout: "300 seconds" })(
  "PgEventStore ordering and delivery",
  (it) => {
    it.effect(
      `gap freedom: 8 concurrent writers with delays inside open transactions and rollbacks (${runs} runs)`,
      () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          // Two stores on one database stand for two processes; the subscriber
          // lives on the first and learns of the second's appends by NOTIFY.
          const { eventStore: first } = yield* PgEventStore.make({ pollInterval: "2 seconds" })
          const { eventStore: second } = yield* PgEventStore.make({ pollInterval: "2 seconds" })
          const context = yield* Effect.context<SqlClient.SqlClient>()
          let checkedEvents = 0
          let rolledBackEvents = 0

          const runScenario = (writers: ReadonlyArray<ReadonlyArray<Op>>) =>
            Effect.gen(function* () {
              const run = randomUUID().slice(0, 8)
              const start = yield* first.headPosition
              const seen = yield* Ref.make<Array<RecordedEvent>>([])
              const subscriber = yield* Effect.forkChild(
                first
                  .subscribe({ name: `gaps-${run}`, from: { after: start }, batchSize: 7 })
                  .pipe(Stream.runForEach((e) => Ref.update(seen, (all) => [...all, e])))
              )
              const committed = new Set<string>()
              const rolledBack = new Set<string>()
              yield* Effect.forEach(
                writers,
                (ops, w) =>
                  Effect.forEach(
                    ops,
                    (o) => {
                      const events = Array.from({ length: o.events }, () => newEvent("Written", { w }))
                      const append = {
                        streamId: `gap${run}-${o.stream}`,
                        expectedVersion: ExpectedVersion.Any,
                        events
                      }
                      const ids = events.map((e) => e.eventId)
                      if (!o.inTransaction) {
                        const store = o.viaSecondProcess ? second : first
                        return Effect.sleep(o.delayMs).pipe(
                          Effect.andThen(store.appendMulti([append])),
                          Effect.tap(() =>
                            Effect.sync(() => {
                              for (const id of ids) committed.add(id)
                            })
                          )
                        )
                      }
                      return sql
                        .withTransaction(
                          Effect.gen(function* () {
                            yield* PgEventStore.appendInTransaction([append])
                            yield* Effect.sleep(o.delayMs)
                            if (o.rollback) return yield* Effect.fail(new RolledBack())
                          })
                        )
                        .pipe(
                          Effect.matchEffect({
                            onSuccess: () =>
                              Effect.sync(() => {
                                for (const id of ids) committed.add(id)
                              }),
                            onFailure: (error) =>
                              error instanceof RolledBack
                                ? Effect.sync(() => {
                                    for (const id of ids) rolledBack.add(id)
                                  })
                                : Effect.fail(error)
                          })
                        )
                    },
                    { discard: true }
                  ),
                { concurrency: "unbounded", discard: true }
              )
              const head = yield* first.headPosition
              yield* waitUntil(() => (Ref.getUnsafe(seen).at(-1)?.position ?? start) >= head)
              yield* Fiber.interrupt(subscriber)
              const delivered = Ref.getUnsafe(seen).filter((e) => e.streamId.startsWith(`gap${run}-`))
              const positions = delivered.map((e) => e.position)
              for (let i = 1; i < positions.length; i++) {
                assert.isAbove(positions[i]!, positions[i - 1]!, "delivered in position order")
              }
              const ids = delivered.map((e) => e.eventId)
              assert.strictEqual(new Set(ids).size, ids.length, "each event delivered once")
              assert.deepStrictEqual(new Set(ids), committed, "every committed event delivered, nothing else")
              for (const id of rolledBack) assert.isFalse(committed.has(id))
              checkedEvents += ids.length
              rolledBackEvents += rolledBack.size
            })

          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(scenario, (writers) => Effect.runPromiseWith(context)(runScenario(writers))),
              { numRuns: runs }
            )
          )
          console.log(
            `gap freedom: ${runs} runs, ${checkedEvents} committed events delivered exactly once in order, ` +
              `${rolledBackEvents} rolled-back events never delivered`
          )
          assert.isAbove(checkedEvents, runs * 8)
          assert.isAbove(rolledBackEvents, 0)
        })
    )

    it.effect("a subscription on one process is woken by another's append without waiting for the poll", () =>
      Effect.gen(function* () {
        const { eventStore: writer } = yield* PgEventStore.make()
        const { eventStore: reader } = yield* PgEventStore.make({ pollInterval: "1 minute" })
        const head = yield* reader.headPosition
        // Let the reader catch up and park on its wait before the write.
        const fiber = yield* Effect.forkChild(take(reader.subscribe({ name: "woken", from: { after: head } }), 1))
        yield* Effect.sleep("200 millis")
        const id = streamId()
        yield* writer.append(id, ExpectedVersion.NoStream, [newEvent("Woke")])
        const [event] = yield* Fiber.join(fiber)
        assert.strictEqual(event?.streamId, id)
      })
    )

    it.effect("an append inside a transaction that rolls back leaves nothing behind", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { eventStore } = yield* PgEventStore.make()
        const id = streamId()
        const head = yield* eventStore.headPosition
        const outcome = yield* sql
          .withTransaction(
            Effect.andThen(
              PgEventStore.appendInTransaction([
                { streamId: id, expectedVersion: ExpectedVersion.NoStream, events: [newEvent("X")] }
              ]),
              Effect.fail("abort" as const)
            )
          )
          .pipe(Effect.flip)
        assert.strictEqual(outcome, "abort")
        assert.strictEqual(yield* eventStore.streamVersion(id), 0)
        assert.strictEqual(yield* eventStore.headPosition, head)
        const after = yield* eventStore.append(id, ExpectedVersion.NoStream, [newEvent("Y")])
        assert.strictEqual(after.firstPosition, head + 1, "the rolled-back position was given back")
      })
    )

    it.effect("a subscription reads this process's own appends exactly as the log holds them", () =>
      Effect.gen(function* () {
        const { eventStore } = yield* PgEventStore.make({ pollInterval: "5 seconds" })
        const head = yield* eventStore.headPosition
        const count = 3 * 8 + 2
        const seen = yield* take(eventStore.subscribe({ name: "own-appends", from: { after: head } }), count).pipe(
          Effect.forkChild
        )
        // The subscription reads the end once (keeping starts there); the appends after it are kept by the appender.
        yield* Effect.sleep("100 millis")
        const nested = { zeta: 1, a: { y: [1, { d: "é", c: null }], b: true }, n: 1.5 }
        const streams = [streamId(), streamId("account")]
        yield* eventStore.appendMulti([
          { streamId: streams[0]!, expectedVersion: ExpectedVersion.NoStream, events: [newEvent("A", nested)] },
          {
            streamId: streams[1]!,
            expectedVersion: ExpectedVersion.NoStream,
            events: [newEvent("B", { i: 0 }, { correlationId: "c-1" })]
          }
        ])
        // Concurrent appends, batched together or not, to new and existing streams.
        yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) =>
            eventStore.append(i % 2 === 0 ? streams[0]! : streamId(), ExpectedVersion.Any, [
              newEvent("C", { i }),
              newEvent("D", { i, list: [i, i + 1] }),
              newEvent("E", {})
            ]),
          { concurrency: "unbounded" }
        )
        const read = Array.from(yield* Fiber.join(seen))
        const stored = yield* eventStore.readAll({ after: head, limit: count })
        assert.strictEqual(read.length, count)
        assert.deepStrictEqual(read, stored)
        assert.deepStrictEqual(read[0]?.data, nested)
      })
    )

    it.effect("recorded_at follows position order, however long before its append a transaction began", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { eventStore } = yield* PgEventStore.make()
        const early = streamId()
        const late = streamId()
        // A transaction that begins, works for a while, then appends: its position comes after one appended
        // meanwhile, and so must its time (its start, now(), is before the other's).
        const slow = yield* sql
          .withTransaction(
            Effect.gen(function* () {
              yield* sql`SELECT 1`
              yield* Effect.sleep("150 millis")
              yield* PgEventStore.appendInTransaction([
                { streamId: early, expectedVersion: ExpectedVersion.NoStream, events: [newEvent("Slow")] }
              ])
            })
          )
          .pipe(Effect.forkChild)
        yield* Effect.sleep("50 millis")
        yield* eventStore.append(late, ExpectedVersion.NoStream, [newEvent("Quick")])
        yield* Fiber.join(slow)
        const [quick] = yield* eventStore.readStream(late)
        const [slowEvent] = yield* eventStore.readStream(early)
        assert.isBelow(quick!.position, slowEvent!.position)
        assert.isAtMost(quick!.recordedAt.getTime(), slowEvent!.recordedAt.getTime())
        assert.isAtLeast(slowEvent!.recordedAt.getTime() - quick!.recordedAt.getTime(), 50, "stamped when appended")
      })
    )

    it.effect("a consumer stopped or crashed mid-way resumes from its checkpoint with no loss and no duplicate", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { eventStore } = yield* PgEventStore.make({ pollInterval: "100 millis" })
        yield* sql`CREATE TABLE handled (position bigint PRIMARY KEY, event_id uuid NOT NULL)`
        const head = yield* eventStore.headPosition
        const name = "projector"
        yield* eventStore.saveCheckpoint(name, head)
        const id = streamId()
        for (let i = 0; i < 20; i++) {
          yield* eventStore.append(
            id,
            ExpectedVersion.Any,
            Array.from({ length: 10 }, () => newEvent("Tick"))
          )
        }
        // The handler writes in the consumer's transaction; a duplicate would break the primary key.
        const handler = (crashAt: number | undefined) => (batch: ReadonlyArray<RecordedEvent>) =>
          Effect.forEach(
            batch,
            (e) =>
              e.version === crashAt
                ? Effect.die(new Error("crash mid-batch"))
                : sql`INSERT INTO handled (position, event_id) VALUES (${e.position}, ${e.eventId})`,
            { discard: true }
          )
        const count = sql<{ n: bigint }>`SELECT count(*) AS n FROM handled`.pipe(
          Effect.map((rows) => Number(rows[0]!.n))
        )

        // 1. Crash inside a batch: the batch's writes and its checkpoint roll back together.
        const crashed = yield* eventStore.consume({ name, batchSize: 7 }, handler(53)).pipe(Effect.exit)
        assert.strictEqual(crashed._tag, "Failure")
        assert.strictEqual(yield* count, 49)
        assert.strictEqual(yield* eventStore.loadCheckpoint(name), head + 49)

        // 2. Stopped from outside while running.
        const running = yield* Effect.forkChild(eventStore.consume({ name, batchSize: 7 }, handler(undefined)))
        yield* Effect.sleep("30 millis")
        yield* Fiber.interrupt(running)
        const stoppedAt = yield* count
        assert.strictEqual(yield* eventStore.loadCheckpoint(name), head + stoppedAt)

        // 3. Restarted: it finishes the rest, and takes new events as they come.
        const resumed = yield* Effect.forkChild(eventStore.consume({ name, batchSize: 7 }, handler(undefined)))
        yield* eventStore.append(id, ExpectedVersion.Any, [newEvent("Late")])
        yield* Effect.gen(function* () {
          while ((yield* count) < 201) yield* Effect.sleep("20 millis")
        }).pipe(Effect.timeout("20 seconds"))
        yield* Fiber.interrupt(resumed)
        const rows = yield* sql<{ position: bigint }>`SELECT position FROM handled ORDER BY position`
        assert.deepStrictEqual(
          rows.map((r) => Number(r.position)),
          Array.from({ length: 201 }, (_, i) => head + 1 + i)
        )
      })
    )
  }
)
