/**
 * Projections under leases (a read-model store the processes share): two
 * processes are told to run the same projection and only the lease holder
 * does; the other answers where it is from the store and waits on the store;
 * when the holder stops, the other takes over from the committed checkpoint,
 * nothing applied twice or skipped.
 */
import { EventStore, ExpectedVersion, InMemoryEventStore, Lease, Uuid } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer, Scope } from "effect"
import {
  applyToDoc,
  MemoryReadModelStore,
  type Projection,
  ProjectionRunner,
  Projections,
  ReadModelStore
} from "../src/index.ts"

const codec = { encode: (n: number) => String(n), decode: (json: string) => Number(json) }

/** Counts each counter stream's events in a document. */
const counters: Projection = {
  name: "leased-counters",
  handles: (event) => event.streamType === "counter",
  docKeys: (event) => [`count:${event.streamId}`],
  apply: (event, context) => {
    applyToDoc(context, `count:${event.streamId}`, event, codec, { create: () => 1, evolve: (n) => n + 1 })
    return undefined
  }
}

const append = (count: number, streamId = "counter-a") =>
  Effect.flatMap(Effect.service(EventStore), (store) =>
    store.append(
      streamId,
      ExpectedVersion.Any,
      Array.from({ length: count }, () => ({ eventId: Uuid.v7(), type: "tick", data: {} }))
    )
  )

/** A process: its own lease session, and the runner told to run the projection (in `partitions`) under it. */
const startProcess = (
  database: Context.Context<Layer.Success<ReturnType<typeof TestDatabase.layer>>>,
  store: ReadModelStore["Service"],
  events: EventStore["Service"],
  partitions = 1
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      Layer.unwrap(
        Effect.map(Lease.Lease, (lease) => ProjectionRunner.layer([counters], { run: true, lease, partitions }))
      ).pipe(
        Layer.provide(Lease.layer),
        Layer.provide(Layer.succeedContext(database)),
        Layer.provide(Layer.succeed(ReadModelStore, store)),
        Layer.provide(Layer.succeed(EventStore, events)),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ LEASE_POLL_INTERVAL: "200 millis" })))
      ),
      scope
    )
    return { projections: Context.get(context, Projections), scope }
  })

describe("projections under leases", () => {
  it.live("one process at a time runs a projection; the other reads the store and takes over when it stops", () =>
    Effect.gen(function* () {
      const database = yield* Layer.build(TestDatabase.layer("leased-projections", { maxConnections: 2 }))
      const store = yield* MemoryReadModelStore.make
      const events = yield* Effect.service(EventStore)
      /** A process: its own lease session, and the runner told to run the projection under it. */
      const process = startProcess(database, store, events)
      const count = store.getDocs({ projection: counters.name }, ["count:counter-a"]).pipe(
        Effect.map(([doc]) => (doc === undefined ? 0 : codec.decode(doc.json))),
        Effect.orDie
      )
      const running = (p: { readonly projections: Projections["Service"] }) =>
        Effect.map(p.projections.status, ([status]) => status?.running === true)

      yield* append(20)
      const a = yield* process
      const b = yield* process
      for (const p of [a, b]) assert.isTrue(yield* p.projections.awaitPosition(counters.name, 20, "5 seconds"))
      assert.strictEqual(yield* count, 20)
      const states = [yield* running(a), yield* running(b)]
      assert.deepStrictEqual(
        states.filter(Boolean).length,
        1,
        `running here: ${JSON.stringify(states)} (a lease lets one run)`
      )
      const [holder, other] = states[0] ? [a, b] : [b, a]
      // The other answers from the store, and keeps none of the documents as its own.
      assert.strictEqual(yield* other.projections.position(counters.name), 20)
      assert.isUndefined(other.projections.committed(counters.name, "count:counter-a"))

      yield* Scope.close(holder.scope, Exit.void)
      yield* append(5)
      assert.isTrue(yield* other.projections.awaitPosition(counters.name, 25, "5 seconds"))
      assert.isTrue(yield* running(other))
      assert.strictEqual(yield* count, 25, "an event applied twice or skipped")
      yield* Scope.close(other.scope, Exit.void)
    }).pipe(Effect.scoped, Effect.provide(InMemoryEventStore.layer()))
  )
  it.live("split in four, two processes share the partitions; when one stops the other runs them all", () =>
    Effect.gen(function* () {
      const database = yield* Layer.build(TestDatabase.layer("leased-projection-partitions", { maxConnections: 2 }))
      const store = yield* MemoryReadModelStore.make
      const events = yield* Effect.service(EventStore)
      const streams = Array.from({ length: 16 }, (_, i) => `counter-${i}`)
      const expected = new Map(streams.map((streamId) => [streamId, 0]))
      const appendAll = (n: number) =>
        Effect.forEach(streams, (streamId) => {
          expected.set(streamId, (expected.get(streamId) ?? 0) + n)
          return append(n, streamId)
        })
      const counts = store
        .getDocs(
          { projection: counters.name },
          streams.map((streamId) => `count:${streamId}`)
        )
        .pipe(
          Effect.map((docs) => docs.map((doc) => (doc === undefined ? 0 : codec.decode(doc.json)))),
          Effect.orDie
        )
      const here = (p: { readonly projections: Projections["Service"] }) =>
        Effect.map(p.projections.status, ([status]) => status?.partitionsHere.length ?? 0)
      /** Waits (at most 10 s) until the processes hold these many partitions each. */
      const until = (
        processes: ReadonlyArray<{ readonly projections: Projections["Service"] }>,
        held: ReadonlyArray<number>
      ) =>
        Effect.gen(function* () {
          for (let tries = 0; tries < 100; tries++) {
            const now = yield* Effect.forEach(processes, here)
            if (JSON.stringify(now) === JSON.stringify(held)) return
            yield* Effect.sleep("100 millis")
          }
          assert.fail(
            `partitions held: ${JSON.stringify(yield* Effect.forEach(processes, here))}, not ${JSON.stringify(held)}`
          )
        })

      yield* appendAll(3)
      const a = yield* startProcess(database, store, events, 4)
      const b = yield* startProcess(database, store, events, 4)
      yield* until([a, b], [2, 2])
      yield* appendAll(2)
      const head = yield* events.headPosition
      for (const p of [a, b]) {
        assert.isTrue(yield* p.projections.awaitPosition(counters.name, head, "5 seconds"))
        assert.strictEqual(yield* p.projections.position(counters.name), head)
      }
      assert.deepStrictEqual(yield* counts, [...expected.values()])

      yield* Scope.close(a.scope, Exit.void)
      yield* until([b], [4])
      yield* appendAll(4)
      assert.isTrue(yield* b.projections.awaitPosition(counters.name, yield* events.headPosition, "5 seconds"))
      assert.deepStrictEqual(yield* counts, [...expected.values()], "an event applied twice or skipped")
      yield* Scope.close(b.scope, Exit.void)
    }).pipe(Effect.scoped, Effect.provide(InMemoryEventStore.layer()))
  )
})
