/**
 * A rebuild's commits: each page's commit runs while the next page is read
 * and applied, and a commit that fails in transit (its answer lost, or the
 * store briefly unreachable) is settled by the generation's checkpoint —
 * applied already, or sent once more — instead of failing the rebuild. The
 * rebuilt model must equal the live one either way.
 */
import { EventStore, ExpectedVersion, InMemoryEventStore, type RecordedEvent, Uuid } from "@agora/eventstore"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  applyToDoc,
  MemoryReadModelStore,
  type Projection,
  ReadModelError,
  ReadModelStore,
  Rebuild
} from "../src/index.ts"

interface Count {
  readonly n: number
}
const countCodec = {
  encode: (value: Count) => JSON.stringify(value),
  decode: (json: string) => JSON.parse(json) as Count
}

const counters: Projection = {
  name: "counters",
  handles: (event) => event.streamType === "counter",
  docKeys: (event) => [`count:${event.streamId}`],
  apply: (event: RecordedEvent, context) => {
    context.indexAdd(`ticks:${event.streamId}`, event.position, event.eventId)
    applyToDoc(context, `count:${event.streamId}`, event, countCodec, {
      create: () => ({ n: 1 }),
      evolve: (count) => ({ n: count.n + 1 })
    })
    return undefined
  }
}

/** The memory store, whose next commits fail before applying (`down`) or after (`answerLost`). */
const faultyStore = Effect.gen(function* () {
  const store = yield* MemoryReadModelStore.make
  const faults = { down: 0, answerLost: 0, commits: 0 }
  const service: ReadModelStore["Service"] = {
    ...store,
    commit: (generation, options) =>
      Effect.gen(function* () {
        faults.commits++
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
  return { store: service, faults }
})

/** 60 events over 6 counters, rebuilt in pages of 7 (9 commits). */
const history = Effect.gen(function* () {
  const events = yield* EventStore
  for (let i = 0; i < 60; i++) {
    yield* events.append(`counter-${i % 6}`, ExpectedVersion.Any, [{ eventId: Uuid.v7(), type: "tick", data: {} }])
  }
})

const counts = (store: ReadModelStore["Service"]) =>
  Effect.map(
    store.getDocs(
      { projection: counters.name },
      Array.from({ length: 6 }, (_, i) => `count:counter-${i}`)
    ),
    (docs) => docs.map((doc) => (doc === undefined ? undefined : countCodec.decode(doc.json).n))
  )

describe("Rebuild commits", () => {
  it.live("a rebuild in many pages equals the log", () =>
    Effect.gen(function* () {
      yield* history
      const { store, faults } = yield* faultyStore
      const report = yield* Rebuild.rebuild(counters, { batchSize: 7, grace: 0 }).pipe(
        Effect.provideService(ReadModelStore, store)
      )
      assert.isTrue(report.switched)
      assert.strictEqual(report.events, 60)
      assert.strictEqual(faults.commits, 9)
      assert.deepStrictEqual(yield* counts(store), [10, 10, 10, 10, 10, 10])
      const ticks = yield* store.indexRange({ projection: counters.name }, "ticks:counter-0", {
        order: "asc",
        limit: 100
      })
      assert.deepStrictEqual(
        ticks.map((t) => t.score),
        Array.from({ length: 10 }, (_, i) => 1 + 6 * i)
      )
    }).pipe(Effect.provide(InMemoryEventStore.layer()))
  )

  it.live("a commit applied whose answer was lost is not sent again", () =>
    Effect.gen(function* () {
      yield* history
      const { store, faults } = yield* faultyStore
      faults.answerLost = 1
      const report = yield* Rebuild.rebuild(counters, { batchSize: 7, grace: 0 }).pipe(
        Effect.provideService(ReadModelStore, store)
      )
      assert.isTrue(report.switched)
      assert.strictEqual(faults.commits, 9)
      assert.deepStrictEqual(yield* counts(store), [10, 10, 10, 10, 10, 10])
    }).pipe(Effect.provide(InMemoryEventStore.layer()))
  )

  it.live("a commit that was not applied is sent once more", () =>
    Effect.gen(function* () {
      yield* history
      const { store, faults } = yield* faultyStore
      faults.down = 1
      const report = yield* Rebuild.rebuild(counters, { batchSize: 7, grace: 0 }).pipe(
        Effect.provideService(ReadModelStore, store)
      )
      assert.isTrue(report.switched)
      assert.strictEqual(faults.commits, 10)
      assert.deepStrictEqual(yield* counts(store), [10, 10, 10, 10, 10, 10])
    }).pipe(Effect.provide(InMemoryEventStore.layer()))
  )

  it.live("a commit that fails twice fails the rebuild, which switches nothing", () =>
    Effect.gen(function* () {
      yield* history
      const { store, faults } = yield* faultyStore
      const live = yield* store.activeGeneration(counters.name)
      faults.down = 2
      const error = yield* Rebuild.rebuild(counters, { batchSize: 7, grace: 0 }).pipe(
        Effect.provideService(ReadModelStore, store),
        Effect.flip
      )
      assert.strictEqual(error._tag, "ReadModelError")
      assert.strictEqual(yield* store.activeGeneration(counters.name), live)
    }).pipe(Effect.provide(InMemoryEventStore.layer()))
  )
})
