/**
 * The projection runner against both store adapters (Redis when `REDIS_URL`
 * is set): it follows the log into documents and indexes, resumes after a
 * restart, a failed commit or a commit whose answer was lost without applying
 * anything twice or skipping anything, parks an event it cannot apply, moves to
 * the generation a rebuild switched to, and a rebuild reports where the live
 * model disagrees with the log.
 */
import { randomUUID } from "node:crypto"
import { EventStore, ExpectedVersion, InMemoryEventStore, Lease, type RecordedEvent, Uuid } from "@agora/eventstore"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, type Scope, Stream } from "effect"
import {
  applyToDoc,
  MemoryReadModelStore,
  type Projection,
  ProjectionRunner,
  Projections,
  ReadModelError,
  ReadModelStore,
  Rebuild,
  Refeed
} from "../src/index.ts"
import { makeRedisStore } from "./testing.ts"

const redisUrl = process.env.REDIS_URL

interface Count {
  readonly n: number
}
const countCodec = {
  encode: (value: Count) => JSON.stringify(value),
  decode: (json: string) => JSON.parse(json) as Count
}

/** Counts each counter stream's ticks (a document) and indexes their event ids; `poison` events cannot be applied. */
const counters = (name: string, ttlSeconds?: number): Projection => ({
  name,
  handles: (event) => event.streamType === "counter",
  docKeys: (event) => [`count:${event.streamId}`],
  apply: (event: RecordedEvent, context) => {
    if (event.type === "poison") return { poison: "a poison pill" }
    context.indexAdd(`ticks:${event.streamId}`, event.position, event.eventId)
    applyToDoc(context, `count:${event.streamId}`, event, countCodec, {
      create: () => ({ n: 1 }),
      evolve: (count) => ({ n: count.n + 1 }),
      ttlSeconds
    })
    return undefined
  }
})

const tick = (type = "tick") => ({ eventId: Uuid.v7(), type, data: {} })

const append = (streamId: string, count: number, type = "tick") =>
  Effect.flatMap(Effect.service(EventStore), (store) =>
    store.append(
      streamId,
      ExpectedVersion.Any,
      Array.from({ length: count }, () => tick(type))
    )
  )

/** A store whose commits can be made to fail: before applying (`down`) or after (`answerLost`). */
const faulty = (store: ReadModelStore["Service"]) => {
  const faults = { down: 0, answerLost: 0, commits: 0, putsBy: new Map<string, Set<number | undefined>>() }
  const service: ReadModelStore["Service"] = {
    ...store,
    commit: (generation, options) =>
      Effect.gen(function* () {
        faults.commits++
        // Which partition (undefined: none) put each document.
        for (const write of options.writes) {
          if (write._tag !== "Put") continue
          const by = faults.putsBy.get(write.key) ?? new Set()
          by.add(options.partition?.index)
          faults.putsBy.set(write.key, by)
        }
        if (faults.down > 0) {
          faults.down--
          return yield* new ReadModelError({ operation: "commit", cause: "injected: the store is down" })
        }
        yield* store.commit(generation, options)
        if (faults.answerLost > 0) {
          faults.answerLost--
          return yield* new ReadModelError({ operation: "commit", cause: "injected: the answer was lost" })
        }
      })
  }
  return { service, faults }
}

const adapters: ReadonlyArray<{
  readonly name: string
  readonly store: Effect.Effect<ReadModelStore["Service"], never, Scope.Scope>
}> = [
  { name: "in-process store", store: MemoryReadModelStore.make },
  ...(redisUrl === undefined
    ? []
    : [{ name: "Redis store", store: Effect.map(makeRedisStore(redisUrl), ({ store }) => store) }])
]
if (redisUrl === undefined) console.warn("ProjectionRunner: the Redis runs are skipped because REDIS_URL is not set")

for (const adapter of adapters) {
  describe(`projection runner on the ${adapter.name}`, () => {
    /** Runs `body` with a fresh event store, the adapter (behind a fault injector) and a runner layer builder. */
    const withWorld = <A, E>(
      body: (world: {
        readonly store: ReadModelStore["Service"]
        readonly faults: ReturnType<typeof faulty>["faults"]
        readonly projection: Projection
        readonly startRunner: Effect.Effect<Projections["Service"], never, Scope.Scope>
        /** A runner with each projection split by stream into `partitions`. */
        readonly startSplit: (partitions: number) => Effect.Effect<Projections["Service"], never, Scope.Scope>
        readonly counts: (streamIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<number | undefined>>
      }) => Effect.Effect<A, E, EventStore | Scope.Scope>
    ) =>
      Effect.gen(function* () {
        const { service: store, faults } = faulty(yield* adapter.store)
        const projection = counters(`counters-${randomUUID()}`)
        const events = yield* Effect.service(EventStore)
        const startSplit = (partitions: number) =>
          Layer.build(
            ProjectionRunner.layer([projection], { run: true, batchSize: 7, partitions }).pipe(
              Layer.provide(Layer.succeed(ReadModelStore, store)),
              Layer.provide(Layer.succeed(EventStore, events))
            )
          ).pipe(Effect.map((context) => Context.get(context, Projections)))
        const startRunner = startSplit(1)
        const counts = (streamIds: ReadonlyArray<string>) =>
          store
            .getDocs(
              { projection: projection.name },
              streamIds.map((id) => `count:${id}`)
            )
            .pipe(
              Effect.map((docs) => docs.map((doc) => (doc === undefined ? undefined : countCodec.decode(doc.json).n))),
              Effect.orDie
            )
        return yield* body({ store, faults, projection, startRunner, startSplit, counts })
      }).pipe(Effect.scoped, Effect.provide(InMemoryEventStore.layer()))

    const head = Effect.flatMap(Effect.service(EventStore), (store) => store.headPosition)

    it.live("follows the log into documents and indexes, and says where it is", () =>
      withWorld(({ startRunner, counts, store, projection }) =>
        Effect.gen(function* () {
          const streams = ["counter-a", "counter-b", "counter-c"]
          yield* append("counter-a", 10)
          yield* append("other-x", 5)
          yield* append("counter-b", 3)
          const projections = yield* startRunner
          yield* append("counter-a", 2)
          yield* append("counter-c", 1)
          const target = yield* head
          assert.isTrue(yield* projections.awaitPosition(projection.name, target, "5 seconds"))
          assert.deepStrictEqual(yield* counts(streams), [12, 3, 1])
          assert.strictEqual(yield* projections.position(projection.name), target)
          // This process's readers get what the runner committed without asking the store.
          assert.deepStrictEqual(projections.committed(projection.name, "count:counter-a"), {
            version: 12,
            value: { n: 12 }
          })
          assert.isUndefined(projections.committed(projection.name, "count:nothing"))
          const ticks = yield* store.indexRange({ projection: projection.name }, "ticks:counter-a", {
            order: "asc",
            limit: 100
          })
          assert.strictEqual(ticks.length, 12)
          // A position not reached in time: false, not an error.
          assert.isFalse(yield* projections.awaitPosition(projection.name, target + 1, "50 millis"))
        })
      )
    )

    it.live("resumes after a restart from its checkpoint: nothing applied twice, nothing skipped", () =>
      withWorld(({ startRunner, counts, projection }) =>
        Effect.gen(function* () {
          yield* append("counter-a", 20)
          yield* Effect.scoped(
            Effect.gen(function* () {
              const projections = yield* startRunner
              assert.isTrue(yield* projections.awaitPosition(projection.name, 20, "5 seconds"))
            })
          )
          // Stopped: events keep coming.
          yield* append("counter-a", 15)
          yield* append("counter-b", 4)
          const projections = yield* startRunner
          assert.isTrue(yield* projections.awaitPosition(projection.name, yield* head, "5 seconds"))
          assert.deepStrictEqual(yield* counts(["counter-a", "counter-b"]), [35, 4])
        })
      )
    )

    it.live("a commit whose answer was lost, or that failed, is retried from the stored checkpoint, once", () =>
      withWorld(({ startRunner, counts, faults, projection }) =>
        Effect.gen(function* () {
          yield* append("counter-a", 9)
          const projections = yield* startRunner
          assert.isTrue(yield* projections.awaitPosition(projection.name, 9, "5 seconds"))
          // The next commit is applied but reported failed; the one after fails outright, twice.
          faults.answerLost = 1
          yield* append("counter-a", 9)
          assert.isTrue(yield* projections.awaitPosition(projection.name, 18, "10 seconds"))
          faults.down = 2
          yield* append("counter-a", 9)
          yield* append("counter-b", 9)
          assert.isTrue(yield* projections.awaitPosition(projection.name, yield* head, "10 seconds"))
          assert.deepStrictEqual(yield* counts(["counter-a", "counter-b"]), [27, 9])
          assert.strictEqual(faults.answerLost + faults.down, 0, "every injected fault was hit")
          const status = yield* projections.status
          assert.isUndefined(status[0]?.lastError, "the error clears once it commits again")
        })
      )
    )

    it.live("parks an event it cannot apply, with the reason, drops that stream's document and goes on", () =>
      withWorld(({ startRunner, counts, store, projection }) =>
        Effect.gen(function* () {
          yield* append("counter-a", 3)
          yield* append("counter-b", 2)
          const projections = yield* startRunner
          assert.isTrue(yield* projections.awaitPosition(projection.name, 5, "5 seconds"))
          yield* append("counter-a", 1, "poison")
          yield* append("counter-a", 2)
          yield* append("counter-b", 2)
          assert.isTrue(yield* projections.awaitPosition(projection.name, yield* head, "5 seconds"))
          const parked = yield* store.indexRange({ projection: projection.name }, ProjectionRunner.parkedIndex, {
            order: "asc",
            limit: 10
          })
          assert.strictEqual(parked.length, 1)
          assert.deepInclude(JSON.parse(parked[0]!.member), {
            position: 6,
            stream_id: "counter-a",
            version: 4,
            type: "poison",
            reason: "a poison pill"
          })
          // counter-a's document cannot be made current any more: it is gone (readers fold the stream); b goes on.
          assert.deepStrictEqual(yield* counts(["counter-a", "counter-b"]), [undefined, 4])
        })
      )
    )

    it.live(
      "split by stream, each partition puts its own streams' documents; a new split resumes where the old one was",
      () =>
        withWorld(({ startRunner, startSplit, counts, faults, store, projection }) =>
          Effect.gen(function* () {
            const streams = Array.from({ length: 12 }, (_, i) => `counter-${i}`)
            const expected = streams.map(() => 0)
            const appendAll = (round: number) =>
              Effect.forEach(streams, (streamId, i) => {
                const n = 1 + ((i + round) % 3)
                expected[i]! += n
                return append(streamId, n)
              })
            yield* appendAll(0)
            yield* Effect.scoped(
              Effect.gen(function* () {
                const projections = yield* startSplit(3)
                yield* appendAll(1)
                const target = yield* head
                assert.isTrue(yield* projections.awaitPosition(projection.name, target, "5 seconds"))
                assert.deepStrictEqual(yield* counts(streams), expected)
                assert.strictEqual(yield* projections.position(projection.name), target)
                const [status] = yield* projections.status
                assert.deepInclude(status, {
                  running: true,
                  partitions: 3,
                  partitionsHere: [0, 1, 2],
                  position: target
                })
                assert.deepStrictEqual(projections.committed(projection.name, "count:counter-5"), {
                  version: expected[5]!,
                  value: { n: expected[5] }
                })
                const generation = { projection: projection.name, generation: 1 }
                for (let index = 0; index < 3; index++)
                  assert.strictEqual(yield* store.partitionCheckpoint(generation, { index, of: 3 }), target)
                assert.strictEqual(yield* store.checkpoint(generation), target)
              })
            )
            for (const streamId of streams) {
              const by = [...(faults.putsBy.get(`count:${streamId}`) ?? [])]
              assert.deepStrictEqual(by, [Lease.partitionOf(streamId, 3)], `${streamId}'s document put by ${by}`)
            }
            const partitionsUsed = new Set(streams.map((streamId) => Lease.partitionOf(streamId, 3)))
            assert.strictEqual(partitionsUsed.size, 3, "the streams fall in every partition")

            // Stopped; then split in two, then not split: each resumes where the last left off.
            yield* appendAll(2)
            yield* Effect.scoped(
              Effect.gen(function* () {
                const projections = yield* startSplit(2)
                yield* appendAll(3)
                assert.isTrue(yield* projections.awaitPosition(projection.name, yield* head, "5 seconds"))
                assert.deepStrictEqual(yield* counts(streams), expected)
              })
            )
            yield* appendAll(4)
            const projections = yield* startRunner
            assert.isTrue(yield* projections.awaitPosition(projection.name, yield* head, "5 seconds"))
            assert.deepStrictEqual(yield* counts(streams), expected)
            const ticks = yield* store.indexRange({ projection: projection.name }, "ticks:counter-0", {
              order: "asc",
              limit: 1_000
            })
            assert.strictEqual(ticks.length, expected[0], "an event indexed twice or skipped")
          })
        )
    )

    it.live("a rebuild while it runs: equal models, the switch, and the runner moves to the new generation", () =>
      withWorld(({ startRunner, counts, store, projection }) =>
        Effect.gen(function* () {
          for (let i = 0; i < 30; i++) yield* append(`counter-${i % 4}`, 1 + (i % 3))
          const projections = yield* startRunner
          assert.isTrue(yield* projections.awaitPosition(projection.name, yield* head, "5 seconds"))
          const before = yield* counts(["counter-0", "counter-1", "counter-2", "counter-3"])
          const report = yield* Rebuild.rebuild(projection, { batchSize: 11, grace: "10 millis" }).pipe(
            Effect.provideService(ReadModelStore, store)
          )
          assert.deepStrictEqual(report.differences, [])
          assert.isTrue(report.switched)
          assert.strictEqual(report.docs, 5, "four counters and the generation's origin")
          assert.isAbove(report.dropped, 0)
          assert.strictEqual(yield* store.activeGeneration(projection.name), 2)
          // The live runner follows the switch: new events land in generation 2.
          yield* append("counter-0", 5)
          assert.isTrue(yield* projections.awaitPosition(projection.name, yield* head, "5 seconds"))
          const after = yield* counts(["counter-0", "counter-1", "counter-2", "counter-3"])
          assert.deepStrictEqual(after, [before[0]! + 5, ...before.slice(1)])
          assert.deepStrictEqual((yield* projections.status)[0]?.generation, 2)
        })
      )
    )

    it.live("read models built from another event log (same prefix, another database) are rebuilt, not resumed", () =>
      withWorld(({ startRunner, counts, store, projection }) =>
        Effect.gen(function* () {
          yield* append("counter-a", 30)
          yield* Effect.scoped(
            Effect.gen(function* () {
              const projections = yield* startRunner
              assert.isTrue(yield* projections.awaitPosition(projection.name, 30, "5 seconds"))
            })
          )
          // Another, shorter log behind the same read-model store: resuming after position 30 would skip it all.
          const other = yield* InMemoryEventStore.make()
          yield* Effect.provideService(append("counter-a", 3), EventStore, other.eventStore)
          const projections = yield* Layer.build(
            ProjectionRunner.layer([projection], { run: true }).pipe(
              Layer.provide(Layer.succeed(ReadModelStore, store)),
              Layer.provide(Layer.succeed(EventStore, other.eventStore))
            )
          ).pipe(Effect.map((context) => Context.get(context, Projections)))
          assert.isTrue(yield* projections.awaitPosition(projection.name, 3, "5 seconds"))
          assert.deepStrictEqual(yield* counts(["counter-a"]), [3])
          assert.strictEqual(yield* store.activeGeneration(projection.name), 2)
        })
      )
    )

    it.live(
      "re-feeding a stream from its first event restores its document, at the live checkpoint; again, nothing",
      () =>
        withWorld(({ startRunner, counts, store, projection }) =>
          Effect.gen(function* () {
            yield* append("counter-a", 6)
            yield* append("counter-a", 1, "poison")
            yield* append("counter-b", 2)
            const projections = yield* startRunner
            const at = yield* head
            assert.isTrue(yield* projections.awaitPosition(projection.name, at, "5 seconds"))
            assert.deepStrictEqual(yield* counts(["counter-a", "counter-b"]), [undefined, 2])
            // The fix: the poison pill counts as a tick now. Re-feed counter-a with the fixed projection.
            const fixed: Projection = {
              ...projection,
              apply: (event, context) => projection.apply({ ...event, type: "tick" }, context)
            }
            const log = yield* Effect.service(EventStore)
            const pages = Stream.fromEffect(log.readStream("counter-a"))
            const report = yield* Refeed.refeed(fixed, pages).pipe(Effect.provideService(ReadModelStore, store))
            assert.deepInclude(report, { events: 7, applied: 7, parked: 0 })
            assert.deepStrictEqual(yield* counts(["counter-a", "counter-b"]), [7, 2])
            assert.strictEqual(yield* projections.position(projection.name), at, "the checkpoint did not move")
            const again = yield* Refeed.refeed(fixed, pages).pipe(Effect.provideService(ReadModelStore, store))
            assert.deepStrictEqual(yield* counts(["counter-a"]), [7])
            assert.isAtMost(again.writes, 7, "only idempotent index writes")
            // The live runner goes on from there.
            yield* append("counter-a", 1)
            assert.isTrue(yield* projections.awaitPosition(projection.name, at + 1, "5 seconds"))
            assert.deepStrictEqual(yield* counts(["counter-a"]), [8])
          })
        )
    )

    it.live("a reader's fill of a fold older than an event the projection passed is refused", () =>
      withWorld(({ store, faults }) =>
        Effect.gen(function* () {
          // Documents that expire after a second, so they go cold.
          const projection = counters(`cold-${randomUUID()}`, 1)
          const log = yield* Effect.service(EventStore)
          const runner = Layer.build(
            ProjectionRunner.layer([projection], { run: true }).pipe(
              Layer.provide(Layer.succeed(ReadModelStore, store)),
              Layer.provide(Layer.succeed(EventStore, log))
            )
          ).pipe(Effect.map((context) => Context.get(context, Projections)))
          yield* append("counter-z", 1)
          const reached = yield* Effect.scoped(
            Effect.flatMap(runner, (first) => first.awaitPosition(projection.name, 1, "5 seconds"))
          )
          assert.isTrue(reached)
          // Expired, and a restarted runner does not hold it either.
          yield* Effect.sleep("1300 millis")
          const projections = yield* runner
          const target = { projection: projection.name }
          // A reader misses and folds the stream at version 1 …
          const folded = { version: 1, json: JSON.stringify({ n: 1 }) }
          // … while the projection passes event 2 (the document is not held: it stays missing).
          yield* append("counter-z", 1)
          assert.isTrue(yield* projections.awaitPosition(projection.name, 2, "5 seconds"))
          // The reader's fill comes late: refused, or the document would stay a version behind for good.
          assert.isFalse(yield* store.fill(target, "count:counter-z", folded, 1))
          assert.deepStrictEqual(yield* store.getDocs(target, ["count:counter-z"]), [undefined])
          assert.isTrue(yield* store.fill(target, "count:counter-z", { version: 2, json: `{"n":2}` }, 1))
          assert.strictEqual(faults.commits > 0, true)
        })
      )
    )

    it.live("a rebuild reports where the live model disagrees with the log (dry run: nothing switched)", () =>
      withWorld(({ startRunner, store, projection }) =>
        Effect.gen(function* () {
          yield* append("counter-a", 4)
          yield* append("counter-b", 4)
          const projections = yield* startRunner
          const at = yield* head
          assert.isTrue(yield* projections.awaitPosition(projection.name, at, "5 seconds"))
          // Corrupt the live model behind the runner's back: a document and an index entry.
          yield* store.commit(
            { projection: projection.name, generation: 1 },
            {
              expectedCheckpoint: at,
              checkpoint: at,
              writes: [
                { _tag: "Put", key: "count:counter-a", version: 5, json: `{"n":40}` },
                { _tag: "IndexAdd", key: "ticks:counter-b", score: 999, member: "forged" }
              ],
              requireActive: true
            }
          )
          const report = yield* Rebuild.rebuild(projection, { dryRun: true }).pipe(
            Effect.provideService(ReadModelStore, store)
          )
          assert.isFalse(report.switched)
          assert.sameMembers(
            report.differences.map((d) => `${d.kind} ${d.key}`),
            ["doc count:counter-a", "index ticks:counter-b"]
          )
          assert.strictEqual(yield* store.activeGeneration(projection.name), 1)
        })
      )
    )
  })
}
