/**
 * The read-model store contract: one suite, run against every adapter. Each
 * test works on a projection of its own, so tests never see each other's
 * data. Time is real (TTLs of a second are waited out), hence
 * `excludeTestServices`.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import { Clock, Context, Effect, type Layer, Result, Stream } from "effect"
import type { Entry, IndexEntry, ReadModelStore, StoredDoc, Write } from "../src/index.ts"

/** The adapter under test, and a second client of the same data (another process, for Redis). */
export class StoreUnderTest extends Context.Service<
  StoreUnderTest,
  {
    readonly store: ReadModelStore["Service"]
    readonly peer: ReadModelStore["Service"]
    /** How long `peer` may still read the previous active generation after `store` switched. */
    readonly switchVisibleWithinMillis: number
  }
>()("test/StoreUnderTest") {}

const freshProjection = () => `p-${randomUUID()}`

export const put = (key: string, version: number, json = `{"v":${version}}`, ttlSeconds?: number): Write => ({
  _tag: "Put",
  key,
  version,
  json,
  ttlSeconds
})
const drop = (key: string, belowVersion: number): Write => ({ _tag: "Drop", key, belowVersion })
const add = (key: string, member: string, score: number): Write => ({ _tag: "IndexAdd", key, member, score })
const remove = (key: string, member: string): Write => ({ _tag: "IndexRemove", key, member })
const doc = (version: number, json = `{"v":${version}}`): StoredDoc => ({ version, json })
const members = (entries: ReadonlyArray<IndexEntry>) => entries.map((e) => e.member)

const sortEntries = (entries: ReadonlyArray<Entry>) =>
  [...entries].sort((a, b) => (`${a._tag}:${a.key}` < `${b._tag}:${b.key}` ? -1 : 1))

export const readModelStoreContract = <E>(adapter: string, factory: Layer.Layer<StoreUnderTest, E>) =>
  layer(factory, { excludeTestServices: true })(`ReadModelStore contract: ${adapter}`, (it) => {
    /** A projection of its own, its generation 1 active, and a commit helper on it. */
    const setup = Effect.gen(function* () {
      const { store, peer, switchVisibleWithinMillis } = yield* StoreUnderTest
      const projection = freshProjection()
      assert.strictEqual(yield* store.activeGeneration(projection), 1)
      const g1 = { projection, generation: 1 }
      let at = 0
      /** Commits `writes` to generation 1 from the checkpoint it is at. */
      const commit = (writes: ReadonlyArray<Write>) =>
        Effect.gen(function* () {
          yield* store.commit(g1, { expectedCheckpoint: at, checkpoint: at + 1, writes, requireActive: true })
          at += 1
        })
      const get = (...keys: ReadonlyArray<string>) => store.getDocs({ projection }, keys)
      return { store, peer, switchVisibleWithinMillis, projection, g1, commit, get }
    })

    describe("documents", () => {
      it.effect("commits documents and reads them back in the order asked", () =>
        Effect.gen(function* () {
          const { store, projection, g1, commit, get } = yield* setup
          yield* commit([put("a", 1), put("b", 2, `{"s":"a|b é 😀"}`), put("user:1|x", 3)])
          assert.deepStrictEqual(yield* get("b", "missing", "a", "user:1|x"), [
            doc(2, `{"s":"a|b é 😀"}`),
            undefined,
            doc(1),
            doc(3)
          ])
          assert.deepStrictEqual(yield* store.getDocs({ projection, generation: 1 }, ["a"]), [doc(1)])
          assert.deepStrictEqual(yield* get(), [])
          assert.strictEqual(yield* store.checkpoint(g1), 1)
        })
      )

      it.effect("a Put never replaces a newer document, nor one of the same version", () =>
        Effect.gen(function* () {
          const { commit, get } = yield* setup
          yield* commit([put("a", 5, "five")])
          yield* commit([put("a", 3, "three")])
          yield* commit([put("a", 5, "other five")])
          assert.deepStrictEqual(yield* get("a"), [doc(5, "five")])
          yield* commit([put("a", 6, "six"), put("a", 4, "four"), put("b", 2, "two"), put("b", 1, "one")])
          assert.deepStrictEqual(yield* get("a", "b"), [doc(6, "six"), doc(2, "two")])
        })
      )

      it.effect("fill is guarded the same way, and a Put respects a filled document", () =>
        Effect.gen(function* () {
          const { store, projection, commit, get } = yield* setup
          const target = { projection }
          assert.isTrue(yield* store.fill(target, "a", doc(3, "three"), undefined))
          assert.isFalse(yield* store.fill(target, "a", doc(2, "two"), undefined))
          assert.isFalse(yield* store.fill(target, "a", doc(3, "other three"), undefined))
          assert.deepStrictEqual(yield* get("a"), [doc(3, "three")])
          assert.isTrue(yield* store.fill(target, "a", doc(4, "four"), undefined))
          yield* commit([put("a", 4, "put four")])
          assert.deepStrictEqual(yield* get("a"), [doc(4, "four")])
          yield* commit([put("a", 7, "seven")])
          assert.isFalse(yield* store.fill(target, "a", doc(6, "six"), undefined))
          assert.deepStrictEqual(yield* get("a"), [doc(7, "seven")])
        })
      )

      it.effect("Drop deletes a document only below the given version, and refuses older ones after", () =>
        Effect.gen(function* () {
          const { store, projection, commit, get } = yield* setup
          yield* commit([put("a", 5), put("b", 5)])
          yield* commit([drop("a", 5), drop("missing", 9)])
          assert.deepStrictEqual(yield* get("a", "missing"), [doc(5), undefined])
          // A reader's fold older than the dropped version cannot come back; one at or past it can.
          assert.isFalse(yield* store.fill({ projection }, "missing", doc(8), undefined))
          assert.deepStrictEqual(yield* get("missing"), [undefined])
          assert.isTrue(yield* store.fill({ projection }, "missing", doc(9), undefined))
          assert.deepStrictEqual(yield* get("missing"), [doc(9)])
          yield* commit([drop("a", 6), drop("b", 100)])
          assert.deepStrictEqual(yield* get("a", "b"), [undefined, undefined])
          yield* commit([put("a", 1), put("b", 99)])
          assert.deepStrictEqual(yield* get("a", "b"), [undefined, undefined])
          yield* commit([put("a", 6), put("b", 100)])
          assert.deepStrictEqual(yield* get("a", "b"), [doc(6), doc(100)])
        })
      )
    })

    describe("time to live", () => {
      it.effect("a document expires after its TTL, and then counts as absent", () =>
        Effect.gen(function* () {
          const { store, projection, commit, get } = yield* setup
          yield* commit([put("a", 5, "a", 1), put("b", 5, "b")])
          assert.isTrue(yield* store.fill({ projection }, "c", doc(5, "c"), 1))
          assert.deepStrictEqual(yield* get("a", "b", "c"), [doc(5, "a"), doc(5, "b"), doc(5, "c")])
          yield* Effect.sleep("1300 millis")
          assert.deepStrictEqual(yield* get("a", "b", "c"), [undefined, doc(5, "b"), undefined])
          yield* commit([put("a", 1, "older")])
          assert.isTrue(yield* store.fill({ projection }, "c", doc(1, "older"), undefined))
          assert.deepStrictEqual(yield* get("a", "c"), [doc(1, "older"), doc(1, "older")])
        })
      )

      it.effect("a Put without a TTL over a document with one keeps it for good", () =>
        Effect.gen(function* () {
          const { commit, get } = yield* setup
          yield* commit([put("a", 1, "a", 1), put("b", 1, "b", 1)])
          yield* commit([put("a", 2, "a")])
          // A newer Put with a TTL sets it afresh.
          yield* Effect.sleep("600 millis")
          yield* commit([put("b", 2, "b", 1)])
          yield* Effect.sleep("700 millis")
          assert.deepStrictEqual(yield* get("a", "b"), [doc(2, "a"), doc(2, "b")])
          yield* Effect.sleep("600 millis")
          assert.deepStrictEqual(yield* get("a", "b"), [doc(2, "a"), undefined])
        })
      )
    })

    describe("commit", () => {
      it.effect("refuses a commit from another checkpoint, and writes nothing", () =>
        Effect.gen(function* () {
          const { store, projection, g1, commit, get } = yield* setup
          yield* commit([put("a", 1), add("idx", "m", 1)])
          yield* store.commit(g1, {
            expectedCheckpoint: 1,
            checkpoint: 10,
            writes: [put("b", 1)],
            requireActive: true
          })
          const error = yield* store
            .commit(g1, {
              expectedCheckpoint: 5,
              checkpoint: 20,
              writes: [put("x", 1), drop("a", 9), add("idx", "n", 2), remove("idx", "m")],
              requireActive: true
            })
            .pipe(Effect.flip)
          assert.strictEqual(error._tag, "StaleCommit")
          assert.deepInclude(error, { projection, generation: 1, reason: "checkpoint_moved", found: 10 })
          assert.deepStrictEqual(yield* get("x", "a"), [undefined, doc(1)])
          const entries = yield* store.indexRange({ projection }, "idx", { order: "asc", limit: 10 })
          assert.deepStrictEqual(entries, [{ member: "m", score: 1 }])
          assert.strictEqual(yield* store.checkpoint(g1), 10)
        })
      )

      it.effect("refuses a commit that requires an inactive generation to be active, and writes nothing", () =>
        Effect.gen(function* () {
          const { store, projection } = yield* setup
          const g2 = yield* store.newGeneration(projection)
          const options = { expectedCheckpoint: 0, checkpoint: 4, writes: [put("a", 1), add("i", "m", 1)] }
          const error = yield* store.commit(g2, { ...options, requireActive: true }).pipe(Effect.flip)
          assert.deepInclude(error, {
            _tag: "StaleCommit",
            projection,
            generation: g2.generation,
            reason: "not_active"
          })
          assert.strictEqual(yield* store.checkpoint(g2), 0)
          assert.deepStrictEqual(yield* Stream.runCollect(store.scan(g2)), [])
          // A rebuild does not require it.
          yield* store.commit(g2, { ...options, requireActive: false })
          assert.strictEqual(yield* store.checkpoint(g2), 4)
          assert.deepStrictEqual(yield* store.getDocs(g2, ["a"]), [doc(1)])
        })
      )

      it.effect("runs commits issued back to back in order, each from the previous one's checkpoint", () =>
        Effect.gen(function* () {
          const { store, g1, get } = yield* setup
          const batches = Array.from({ length: 8 }, (_, i) => i)
          yield* Effect.forEach(
            batches,
            (i) =>
              store.commit(g1, {
                expectedCheckpoint: i * 100,
                checkpoint: (i + 1) * 100,
                writes: [put("a", i + 1), add("i", `m${i}`, i)],
                requireActive: true
              }),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(yield* store.checkpoint(g1), 800)
          assert.deepStrictEqual(yield* get("a"), [doc(8)])
        })
      )

      it.effect("of two runners committing from the same checkpoint, exactly one succeeds", () =>
        Effect.gen(function* () {
          const { store, peer } = yield* StoreUnderTest
          for (let round = 0; round < 10; round++) {
            const projection = freshProjection()
            const g1 = { projection, generation: 1 }
            const runner = (name: string, runnerStore: ReadModelStore["Service"], checkpoint: number) =>
              runnerStore.commit(g1, {
                expectedCheckpoint: 0,
                checkpoint,
                writes: [put("doc", 1, name), add("idx", name, 1)],
                requireActive: true
              })
            const [first, second] = yield* Effect.all(
              [Effect.result(runner("first", store, 7)), Effect.result(runner("second", peer, 9))],
              { concurrency: "unbounded" }
            )
            assert.strictEqual(Result.isSuccess(first) !== Result.isSuccess(second), true, `round ${round}`)
            const [winner, checkpoint, loser] = Result.isSuccess(first) ? ["first", 7, second] : ["second", 9, first]
            assert.isTrue(Result.isFailure(loser))
            if (Result.isFailure(loser))
              assert.deepInclude(loser.failure, { _tag: "StaleCommit", reason: "checkpoint_moved", found: checkpoint })
            assert.deepStrictEqual(yield* store.getDocs(g1, ["doc"]), [doc(1, winner)])
            assert.deepStrictEqual(members(yield* store.indexRange(g1, "idx", { order: "asc", limit: 5 })), [winner])
            assert.strictEqual(yield* store.checkpoint(g1), checkpoint)
          }
        })
      )

      it.effect("refuses invalid input before writing anything", () =>
        Effect.gen(function* () {
          const { store, g1, get } = yield* setup
          const invalid = [
            [put("a", 1), put("b", 1, "b", 0)],
            [put("a", 1), put("b", Number.NaN)],
            [put("a", 1), add("i", "m", Number.NaN)]
          ]
          for (const writes of invalid) {
            const error = yield* store
              .commit(g1, { expectedCheckpoint: 0, checkpoint: 1, writes, requireActive: true })
              .pipe(Effect.flip)
            assert.strictEqual(error._tag, "ReadModelError")
          }
          assert.deepStrictEqual(yield* get("a"), [undefined])
          assert.strictEqual(yield* store.checkpoint(g1), 0)
          const badName = yield* store.getDocs({ projection: "a:g1" }, ["a"]).pipe(Effect.flip)
          assert.deepInclude(badName, { _tag: "ReadModelError", operation: "getDocs" })
          const badGeneration = yield* store.checkpoint({ projection: "a", generation: 0 }).pipe(Effect.flip)
          assert.strictEqual(badGeneration._tag, "ReadModelError")
        })
      )
    })

    describe("partition checkpoints", () => {
      /** A commit of partition `index` of `of`, from its own checkpoint `from` to `to`. */
      const partitionCommit = (
        store: ReadModelStore["Service"],
        generation: { readonly projection: string; readonly generation: number },
        partition: { readonly index: number; readonly of: number },
        from: number,
        to: number,
        writes: ReadonlyArray<Write> = []
      ) =>
        store.commit(generation, { expectedCheckpoint: from, checkpoint: to, writes, requireActive: true, partition })

      it.effect("the generation's checkpoint is the lowest of its partitions', once each has committed", () =>
        Effect.gen(function* () {
          const { store, peer, projection, g1, get } = yield* setup
          const split = (index: number) => ({ index, of: 3 })
          yield* partitionCommit(store, g1, split(0), 0, 10, [put("a", 1)])
          yield* partitionCommit(store, g1, split(2), 0, 7)
          assert.strictEqual(yield* store.checkpoint(g1), 0, "partition 1 has not committed")
          assert.strictEqual(yield* store.partitionCheckpoint(g1, split(0)), 10)
          assert.strictEqual(yield* peer.partitionCheckpoint(g1, split(1)), 0)
          yield* partitionCommit(peer, g1, split(1), 0, 12, [add("i", "m", 1)])
          assert.strictEqual(yield* store.checkpoint(g1), 7)
          yield* partitionCommit(store, g1, split(2), 7, 15)
          assert.strictEqual(yield* peer.checkpoint(g1), 10)
          assert.deepStrictEqual(yield* get("a"), [doc(1)])
          assert.deepStrictEqual(yield* store.indexRange({ projection }, "i", { order: "asc", limit: 5 }), [
            { member: "m", score: 1 }
          ])
          // The partition checkpoints are not entries of the generation.
          assert.sameMembers(
            (yield* Stream.runCollect(store.scan(g1))).map((entry) => entry.key),
            ["a", "i"]
          )
        })
      )

      it.effect("a partition commit from a checkpoint it is not at is refused with its own, and writes nothing", () =>
        Effect.gen(function* () {
          const { store, g1, get } = yield* setup
          const first = { index: 0, of: 2 }
          yield* partitionCommit(store, g1, first, 0, 5)
          const error = yield* partitionCommit(store, g1, first, 3, 9, [put("a", 1)]).pipe(Effect.flip)
          assert.deepInclude(error, { _tag: "StaleCommit", reason: "checkpoint_moved", found: 5 })
          assert.deepStrictEqual(yield* get("a"), [undefined])
          assert.strictEqual(yield* store.partitionCheckpoint(g1, first), 5)
          // The whole projection's checkpoint and each partition's are apart: an unpartitioned commit expects its own.
          const whole = yield* store
            .commit(g1, { expectedCheckpoint: 5, checkpoint: 6, writes: [], requireActive: true })
            .pipe(Effect.flip)
          assert.deepInclude(whole, { _tag: "StaleCommit", reason: "checkpoint_moved", found: 0 })
        })
      )

      it.effect("a new split starts under the checkpoint the old one reached, which never moves back", () =>
        Effect.gen(function* () {
          const { store, g1, commit } = yield* setup
          for (let i = 0; i < 4; i++) yield* commit([])
          assert.strictEqual(yield* store.checkpoint(g1), 4)
          // A split that has not fully committed leaves it at 4, and a partition behind it does not lower it.
          yield* partitionCommit(store, g1, { index: 0, of: 2 }, 0, 9)
          assert.strictEqual(yield* store.checkpoint(g1), 4)
          yield* partitionCommit(store, g1, { index: 1, of: 2 }, 0, 2)
          assert.strictEqual(yield* store.checkpoint(g1), 4)
          yield* partitionCommit(store, g1, { index: 1, of: 2 }, 2, 11)
          assert.strictEqual(yield* store.checkpoint(g1), 9)
          // Another split's partitions are its own: partition 0 of 3 has none yet.
          assert.strictEqual(yield* store.partitionCheckpoint(g1, { index: 0, of: 3 }), 0)
        })
      )

      it.effect("marks the generation as holding something, and refuses a partition outside its split", () =>
        Effect.gen(function* () {
          const { store, projection } = yield* setup
          const g2 = yield* store.newGeneration(projection)
          yield* store.commit(g2, {
            expectedCheckpoint: 0,
            checkpoint: 3,
            writes: [],
            requireActive: false,
            partition: { index: 1, of: 2 }
          })
          assert.include(yield* store.generations(projection), g2.generation)
          for (const partition of [
            { index: 2, of: 2 },
            { index: 0, of: 1 },
            { index: -1, of: 4 },
            { index: 0, of: 257 },
            { index: 0.5, of: 4 }
          ]) {
            const error = yield* partitionCommit(store, g2, partition, 0, 1, [put("a", 1)]).pipe(Effect.flip)
            assert.strictEqual(error._tag, "ReadModelError", JSON.stringify(partition))
            const read = yield* store.partitionCheckpoint(g2, partition).pipe(Effect.flip)
            assert.strictEqual(read._tag, "ReadModelError", JSON.stringify(partition))
          }
          assert.deepStrictEqual(yield* store.getDocs(g2, ["a"]), [undefined])
        })
      )
    })

    describe("indexes", () => {
      it.effect("pages by score both ways with exclusive bounds", () =>
        Effect.gen(function* () {
          const { store, projection, commit } = yield* setup
          yield* commit(Array.from({ length: 10 }, (_, i) => add("idx", `m${String(i + 1).padStart(2, "0")}`, i + 1)))
          const range = (options: Parameters<ReadModelStore["Service"]["indexRange"]>[2]) =>
            Effect.map(store.indexRange({ projection }, "idx", options), (entries) => entries.map((e) => e.score))
          assert.deepStrictEqual(yield* range({ order: "asc", limit: 3 }), [1, 2, 3])
          assert.deepStrictEqual(yield* range({ order: "asc", above: 3, limit: 3 }), [4, 5, 6])
          assert.deepStrictEqual(yield* range({ order: "asc", above: 9, limit: 3 }), [10])
          assert.deepStrictEqual(yield* range({ order: "asc", above: 10, limit: 3 }), [])
          assert.deepStrictEqual(yield* range({ order: "desc", limit: 3 }), [10, 9, 8])
          assert.deepStrictEqual(yield* range({ order: "desc", below: 8, limit: 3 }), [7, 6, 5])
          assert.deepStrictEqual(yield* range({ order: "desc", below: 2, limit: 3 }), [1])
          assert.deepStrictEqual(yield* range({ order: "desc", below: 1, limit: 3 }), [])
          assert.deepStrictEqual(yield* range({ order: "asc", above: 2, below: 5, limit: 9 }), [3, 4])
          assert.deepStrictEqual(yield* range({ order: "desc", above: 2, below: 5, limit: 9 }), [4, 3])
          assert.deepStrictEqual(yield* range({ order: "asc", above: 2.5, below: 4.5, limit: 9 }), [3, 4])
          assert.deepStrictEqual(yield* range({ order: "asc", limit: 0 }), [])
          const entries = yield* store.indexRange({ projection }, "idx", { order: "desc", limit: 1 })
          assert.deepStrictEqual(entries, [{ member: "m10", score: 10 }])
          assert.deepStrictEqual(yield* store.indexRange({ projection }, "none", { order: "asc", limit: 5 }), [])
        })
      )

      it.effect("orders ties by member bytewise, reversed when descending; re-scores and removes", () =>
        Effect.gen(function* () {
          const { store, projection, commit } = yield* setup
          const range = (order: "asc" | "desc") =>
            Effect.map(store.indexRange({ projection }, "idx", { order, limit: 10 }), members)
          yield* commit([
            add("idx", "b", 5),
            add("idx", "a", 5),
            add("idx", "é", 5),
            add("idx", "B", 5),
            add("idx", "z", 1)
          ])
          assert.deepStrictEqual(yield* range("asc"), ["z", "B", "a", "b", "é"])
          assert.deepStrictEqual(yield* range("desc"), ["é", "b", "a", "B", "z"])
          yield* commit([add("idx", "a", 0), remove("idx", "b"), remove("idx", "absent")])
          assert.deepStrictEqual(yield* range("asc"), ["a", "z", "B", "é"])
          yield* commit([remove("idx", "a"), remove("idx", "z"), remove("idx", "B"), remove("idx", "é")])
          assert.deepStrictEqual(yield* range("asc"), [])
        })
      )

      it.effect("holds infinite scores", () =>
        Effect.gen(function* () {
          const { store, projection, commit } = yield* setup
          yield* commit([
            add("idx", "top", Number.POSITIVE_INFINITY),
            add("idx", "bottom", Number.NEGATIVE_INFINITY),
            add("idx", "zero", 0)
          ])
          const asc = yield* store.indexRange({ projection }, "idx", { order: "asc", limit: 5 })
          assert.deepStrictEqual(asc, [
            { member: "bottom", score: Number.NEGATIVE_INFINITY },
            { member: "zero", score: 0 },
            { member: "top", score: Number.POSITIVE_INFINITY }
          ])
          const above = yield* store.indexRange({ projection }, "idx", {
            order: "asc",
            above: Number.NEGATIVE_INFINITY,
            limit: 5
          })
          assert.deepStrictEqual(members(above), ["zero", "top"])
          const below = yield* store.indexRange({ projection }, "idx", {
            order: "desc",
            below: Number.POSITIVE_INFINITY,
            limit: 5
          })
          assert.deepStrictEqual(members(below), ["zero", "bottom"])
        })
      )

      it.effect("pages members of one score in bytewise order after an exclusive member", () =>
        Effect.gen(function* () {
          const { store, projection, commit } = yield* setup
          const all = ["b", "a", "Z", "é", "ｚ", "😀", "a:1", "ab", "a b"]
          yield* commit(all.map((member) => add("skus", member, 0)))
          const page = (after: string | undefined, limit: number) =>
            store.indexRangeByMember({ projection }, "skus", { after, limit })
          // UTF-8 byte order: "😀" (F0…) sorts after "ｚ" (EF…), though not in UTF-16 order.
          const sorted = ["Z", "a", "a b", "a:1", "ab", "b", "é", "ｚ", "😀"]
          assert.deepStrictEqual(yield* page(undefined, 100), sorted)
          assert.deepStrictEqual(yield* page(undefined, 4), sorted.slice(0, 4))
          assert.deepStrictEqual(yield* page("a:1", 4), sorted.slice(4, 8))
          assert.deepStrictEqual(yield* page("ｚ", 4), ["😀"])
          assert.deepStrictEqual(yield* page("😀", 4), [])
          assert.deepStrictEqual(yield* page("aa", 2), ["ab", "b"])
          assert.deepStrictEqual(yield* page("a", 0), [])
          assert.deepStrictEqual(yield* store.indexRangeByMember({ projection }, "none", { limit: 5 }), [])
        })
      )
    })

    describe("generations", () => {
      it.effect("the first call makes generation 1 active; new ones are inactive and numbers never come back", () =>
        Effect.gen(function* () {
          const { store } = yield* StoreUnderTest
          const projection = freshProjection()
          assert.deepStrictEqual(yield* store.generations(projection), [])
          assert.strictEqual(yield* store.checkpoint({ projection, generation: 1 }), 0)
          const g2 = yield* store.newGeneration(projection)
          assert.deepStrictEqual(g2, { projection, generation: 2 })
          assert.strictEqual(yield* store.activeGeneration(projection), 1)
          assert.deepStrictEqual(yield* store.generations(projection), [1])
          const g3 = yield* store.newGeneration(projection)
          assert.strictEqual(g3.generation, 3)
          yield* store.commit(g3, { expectedCheckpoint: 0, checkpoint: 1, writes: [], requireActive: false })
          assert.deepStrictEqual(yield* store.generations(projection), [1, 3])
          assert.strictEqual(yield* store.dropGeneration(g3), 1)
          assert.deepStrictEqual(yield* store.generations(projection), [1])
          assert.strictEqual((yield* store.newGeneration(projection)).generation, 4)
        })
      )

      it.effect("switchActive is a compare-and-set", () =>
        Effect.gen(function* () {
          const { store, projection } = yield* setup
          const g2 = yield* store.newGeneration(projection)
          assert.isFalse(yield* store.switchActive(projection, 2, 2))
          assert.strictEqual(yield* store.activeGeneration(projection), 1)
          assert.isTrue(yield* store.switchActive(projection, 1, g2.generation))
          assert.strictEqual(yield* store.activeGeneration(projection), 2)
          assert.isFalse(yield* store.switchActive(projection, 1, 2))
          assert.deepStrictEqual(yield* store.generations(projection), [2])
          const never = yield* store.switchActive(projection, 2, 99).pipe(Effect.flip)
          assert.strictEqual(never._tag, "ReadModelError")
          assert.strictEqual(yield* store.activeGeneration(projection), 2)
        })
      )

      it.effect("readers that name no generation follow a switch", () =>
        Effect.gen(function* () {
          const { store, peer, switchVisibleWithinMillis, projection, commit } = yield* setup
          yield* commit([put("a", 1, "blue"), add("idx", "blue", 1)])
          const g2 = yield* store.newGeneration(projection)
          yield* store.commit(g2, {
            expectedCheckpoint: 0,
            checkpoint: 1,
            writes: [put("a", 1, "green"), add("idx", "green", 1)],
            requireActive: false
          })
          assert.deepStrictEqual(yield* peer.getDocs({ projection }, ["a"]), [doc(1, "blue")])
          assert.isTrue(yield* store.switchActive(projection, 1, g2.generation))
          assert.deepStrictEqual(yield* store.getDocs({ projection }, ["a"]), [doc(1, "green")])
          const idx = yield* store.indexRange({ projection }, "idx", { order: "asc", limit: 5 })
          assert.deepStrictEqual(members(idx), ["green"])
          // The live runner of generation 1 is told to stop.
          const stale = yield* store
            .commit(
              { projection, generation: 1 },
              { expectedCheckpoint: 1, checkpoint: 2, writes: [], requireActive: true }
            )
            .pipe(Effect.flip)
          assert.deepInclude(stale, { _tag: "StaleCommit", reason: "not_active", found: 1 })
          const started = yield* Clock.currentTimeMillis
          let seen = yield* peer.getDocs({ projection }, ["a"])
          while (
            seen[0]?.json !== "green" &&
            (yield* Clock.currentTimeMillis) - started < switchVisibleWithinMillis + 500
          ) {
            yield* Effect.sleep("50 millis")
            seen = yield* peer.getDocs({ projection }, ["a"])
          }
          assert.deepStrictEqual(seen, [doc(1, "green")])
        })
      )

      it.effect("dropGeneration deletes everything a generation holds, and refuses the active one", () =>
        Effect.gen(function* () {
          const { store, projection, g1, commit } = yield* setup
          yield* commit([put("a", 1)])
          const g2 = yield* store.newGeneration(projection)
          yield* store.commit(g2, {
            expectedCheckpoint: 0,
            checkpoint: 3,
            writes: [put("a", 1), put("b", 1, "b", 60), add("idx", "m", 1), add("idx", "n", 2)],
            requireActive: false
          })
          const refused = yield* store.dropGeneration(g1).pipe(Effect.flip)
          assert.deepInclude(refused, { _tag: "ReadModelError", operation: "dropGeneration" })
          // Two documents, an index and the checkpoint.
          assert.strictEqual(yield* store.dropGeneration(g2), 4)
          assert.deepStrictEqual(yield* Stream.runCollect(store.scan(g2)), [])
          assert.strictEqual(yield* store.checkpoint(g2), 0)
          assert.deepStrictEqual(yield* store.getDocs(g2, ["a", "b"]), [undefined, undefined])
          assert.strictEqual(yield* store.dropGeneration(g2), 0)
          assert.deepStrictEqual(yield* store.getDocs({ projection }, ["a"]), [doc(1)])
          // Once switched away from, the old one can go.
          const g3 = yield* store.newGeneration(projection)
          assert.isTrue(yield* store.switchActive(projection, 1, g3.generation))
          assert.strictEqual(yield* store.dropGeneration(g1), 2)
          assert.deepStrictEqual(yield* store.generations(projection), [3])
          assert.strictEqual((yield* store.newGeneration(projection)).generation, 4)
        })
      )
    })

    describe("scan", () => {
      it.effect("returns exactly the documents and indexes written, without the checkpoint", () =>
        Effect.gen(function* () {
          const { store, g1, commit } = yield* setup
          const many = Array.from({ length: 2_500 }, (_, i) => put(`doc:${i}`, i, `{"i":${i}}`))
          yield* commit(many)
          yield* commit([
            put("ttl", 3, "t", 60),
            drop("doc:7", 100),
            add("idx", "b", 2),
            add("idx", "a", 1),
            add("other", "x", 0),
            add("gone", "y", 0),
            remove("gone", "y")
          ])
          const expected: Array<Entry> = [
            ...many.flatMap(
              (w): Array<Entry> =>
                w._tag === "Put" && w.key !== "doc:7" ? [{ _tag: "Doc", key: w.key, doc: doc(w.version, w.json) }] : []
            ),
            { _tag: "Doc", key: "ttl", doc: doc(3, "t") },
            {
              _tag: "Index",
              key: "idx",
              entries: [
                { member: "a", score: 1 },
                { member: "b", score: 2 }
              ]
            },
            { _tag: "Index", key: "other", entries: [{ member: "x", score: 0 }] }
          ]
          const scanned = yield* Stream.runCollect(store.scan(g1))
          assert.strictEqual(scanned.length, expected.length)
          assert.deepStrictEqual(sortEntries(scanned), sortEntries(expected))
        })
      )
    })

    it.effect("answers a ping", () => Effect.flatMap(StoreUnderTest, ({ store }) => store.ping))
  })
