/**
 * The in-process read-model store: the embedded default and the reference the
 * contract tests hold the Redis adapter to. Same semantics as Redis, on Maps:
 *
 * - a generation exists from its first write (a commit or a fill) until it is
 *   dropped, and `generations` lists those plus the active one;
 * - a document with a TTL expires by the `Clock`; an expired one is absent to
 *   every read and guard, and is purged when touched (and by a sweep of its
 *   generation at most once a minute on writes, so unread ones do not pile up);
 * - a commit checks, writes and moves the checkpoint within one synchronous
 *   step, so no other fiber sees half of it;
 * - an uninitialised projection reads as if generation 1 were active, as in
 *   Redis; `activeGeneration`, `newGeneration` and `switchActive` initialise it.
 *
 * `dropGeneration` of the active generation fails with `ReadModelError`.
 */
import { Clock, Effect, Layer, Stream } from "effect"
import { SortedIndex } from "./internal/SortedIndex.ts"
import * as Validate from "./internal/validate.ts"
import {
  type CommitOptions,
  type Entry,
  type Generation,
  type IndexEntry,
  type IndexRangeOptions,
  type Partition,
  ReadModelError,
  ReadModelStore,
  StaleCommit,
  type StoredDoc,
  type Target
} from "./ReadModelStore.ts"

interface Doc {
  readonly version: number
  readonly json: string
  /** Epoch millis from which the document is gone. */
  readonly expiresAt: number | undefined
}

interface GenerationData {
  checkpoint: number
  /** Partition checkpoints by `<index>/<of>`, as the Redis adapter's hash. */
  readonly partitions: Map<string, number>
  readonly docs: Map<string, Doc>
  readonly indexes: Map<string, SortedIndex>
  sweptAt: number
}

interface ProjectionData {
  /** Unset until the projection is initialised; reads take 1 meanwhile. */
  active: number | undefined
  /** The highest generation number handed out (never decreases, so numbers are never reused). */
  allocated: number
  readonly generations: Map<number, GenerationData>
}

const sweepEveryMillis = 60_000

const failure = (operation: string, message: string) => new ReadModelError({ operation, cause: new Error(message) })

/** A fresh, empty in-process store. */
/** How long a `Drop` marker refuses older fills (see the port). */
const markerTtlMillis = 3_600_000

export const make: Effect.Effect<ReadModelStore["Service"]> = Effect.sync(() => {
  const projections = new Map<string, ProjectionData>()

  const projectionData = (name: string) => {
    let data = projections.get(name)
    if (data === undefined) {
      data = { active: undefined, allocated: 0, generations: new Map() }
      projections.set(name, data)
    }
    return data
  }

  const initialise = (data: ProjectionData) => {
    if (data.active === undefined) {
      data.active = 1
      data.allocated = Math.max(data.allocated, 1)
    }
    return data.active
  }

  const activeOf = (name: string) => projections.get(name)?.active ?? 1

  const existing = (name: string, generation: number) => projections.get(name)?.generations.get(generation)

  const created = (name: string, generation: number, now: number) => {
    const gens = projectionData(name).generations
    let data = gens.get(generation)
    if (data === undefined) {
      data = { checkpoint: 0, partitions: new Map(), docs: new Map(), indexes: new Map(), sweptAt: now }
      gens.set(generation, data)
    }
    return data
  }

  const liveDoc = (data: GenerationData, key: string, now: number) => {
    const doc = data.docs.get(key)
    if (doc?.expiresAt !== undefined && doc.expiresAt <= now) {
      data.docs.delete(key)
      return undefined
    }
    return doc
  }

  const sweep = (data: GenerationData, now: number) => {
    if (now - data.sweptAt < sweepEveryMillis) return
    data.sweptAt = now
    for (const key of data.docs.keys()) liveDoc(data, key, now)
  }

  const putGuarded = (
    data: GenerationData,
    key: string,
    version: number,
    json: string,
    ttlSeconds: number | undefined,
    now: number
  ) => {
    const stored = liveDoc(data, key, now)
    if (stored !== undefined && stored.version >= version) return false
    data.docs.set(key, { version, json, expiresAt: ttlSeconds === undefined ? undefined : now + ttlSeconds * 1000 })
    return true
  }

  const resolve = (operation: string, target: Target) =>
    target.generation === undefined
      ? Effect.as(Validate.projection(operation, target.projection), activeOf(target.projection))
      : Effect.as(Validate.generation(operation, target.projection, target.generation), target.generation)

  /** Checks, applies and moves the checkpoint without yielding: atomic for every other fiber. */
  const applyCommit = (generation: Generation, options: CommitOptions, now: number) => {
    const { projection, generation: n } = generation
    const found = existing(projection, n)?.checkpoint ?? 0
    if (options.requireActive && activeOf(projection) !== n)
      return new StaleCommit({ projection, generation: n, reason: "not_active", found })
    const { partition } = options
    const field = partition === undefined ? undefined : `${partition.index}/${partition.of}`
    const own = field === undefined ? found : (existing(projection, n)?.partitions.get(field) ?? 0)
    if (own !== options.expectedCheckpoint)
      return new StaleCommit({ projection, generation: n, reason: "checkpoint_moved", found: own })
    const data = created(projection, n, now)
    for (const write of options.writes) {
      switch (write._tag) {
        case "Put":
          putGuarded(data, write.key, write.version, write.json, write.ttlSeconds, now)
          break
        case "Drop": {
          const stored = liveDoc(data, write.key, now)
          if (stored === undefined || stored.version < write.belowVersion) {
            // A marker, not a document: later fills and puts below `belowVersion` are refused.
            data.docs.set(write.key, { version: write.belowVersion - 1, json: "", expiresAt: now + markerTtlMillis })
          }
          break
        }
        case "IndexAdd": {
          let index = data.indexes.get(write.key)
          if (index === undefined) {
            index = new SortedIndex()
            data.indexes.set(write.key, index)
          }
          index.add(write.member, write.score)
          break
        }
        case "IndexRemove": {
          const index = data.indexes.get(write.key)
          index?.remove(write.member)
          // An empty sorted set does not exist in Redis either.
          if (index?.size === 0) data.indexes.delete(write.key)
          break
        }
      }
    }
    if (partition === undefined || field === undefined) data.checkpoint = options.checkpoint
    else {
      data.partitions.set(field, options.checkpoint)
      let lowest = Number.POSITIVE_INFINITY
      for (let index = 0; index < partition.of; index++)
        lowest = Math.min(lowest, data.partitions.get(`${index}/${partition.of}`) ?? data.checkpoint)
      data.checkpoint = Math.max(data.checkpoint, lowest)
    }
    sweep(data, now)
    return undefined
  }

  const commit = Effect.fn("MemoryReadModelStore.commit")(function* (generation: Generation, options: CommitOptions) {
    yield* Validate.generation("commit", generation.projection, generation.generation)
    yield* Validate.commit("commit", options)
    const now = yield* Clock.currentTimeMillis
    const refused = applyCommit(generation, options, now)
    if (refused !== undefined) return yield* refused
  })

  // Reads are on the hot path: untraced, like the Redis adapter's.
  const getDocs = Effect.fnUntraced(function* (target: Target, keys: ReadonlyArray<string>) {
    const generation = yield* resolve("getDocs", target)
    const now = yield* Clock.currentTimeMillis
    const data = existing(target.projection, generation)
    return keys.map((key): StoredDoc | undefined => {
      const doc = data === undefined ? undefined : liveDoc(data, key, now)
      return doc === undefined || doc.json === "" ? undefined : { version: doc.version, json: doc.json }
    })
  })

  const fill = Effect.fnUntraced(function* (
    target: Target,
    key: string,
    doc: StoredDoc,
    ttlSeconds: number | undefined
  ) {
    const generation = yield* resolve("fill", target)
    yield* Validate.fill("fill", key, doc.version, ttlSeconds)
    const now = yield* Clock.currentTimeMillis
    const data = created(target.projection, generation, now)
    const written = putGuarded(data, key, doc.version, doc.json, ttlSeconds, now)
    sweep(data, now)
    return written
  })

  const indexRange = Effect.fnUntraced(function* (target: Target, key: string, options: IndexRangeOptions) {
    const generation = yield* resolve("indexRange", target)
    const index = existing(target.projection, generation)?.indexes.get(key)
    return index === undefined
      ? []
      : index.range(options.order, options.above, options.below, Validate.limit(options.limit))
  })

  const indexRangeByMember = Effect.fnUntraced(function* (
    target: Target,
    key: string,
    options: { readonly after?: string | undefined; readonly limit: number }
  ) {
    const generation = yield* resolve("indexRangeByMember", target)
    const index = existing(target.projection, generation)?.indexes.get(key)
    return index === undefined ? [] : index.byMember(options.after, Validate.limit(options.limit))
  })

  const activeGeneration = (projection: string) =>
    Effect.flatMap(Validate.projection("activeGeneration", projection), () =>
      Effect.sync(() => initialise(projectionData(projection)))
    )

  const checkpoint = (generation: Generation) =>
    Effect.flatMap(Validate.generation("checkpoint", generation.projection, generation.generation), () =>
      Effect.sync(() => existing(generation.projection, generation.generation)?.checkpoint ?? 0)
    )

  const partitionCheckpoint = (generation: Generation, partition: Partition) =>
    Effect.flatMap(Validate.generation("partitionCheckpoint", generation.projection, generation.generation), () =>
      Effect.flatMap(Validate.partition("partitionCheckpoint", partition), () =>
        Effect.sync(
          () =>
            existing(generation.projection, generation.generation)?.partitions.get(
              `${partition.index}/${partition.of}`
            ) ?? 0
        )
      )
    )

  const newGeneration = Effect.fn("MemoryReadModelStore.newGeneration")(function* (projection: string) {
    yield* Validate.projection("newGeneration", projection)
    const data = projectionData(projection)
    initialise(data)
    data.allocated += 1
    return { projection, generation: data.allocated }
  })

  const switchActive = Effect.fn("MemoryReadModelStore.switchActive")(function* (
    projection: string,
    from: number,
    to: number
  ) {
    yield* Validate.generation("switchActive", projection, to)
    const data = projectionData(projection)
    const active = initialise(data)
    if (to > data.allocated)
      return yield* failure("switchActive", `generation ${to} of ${projection} was never allocated`)
    if (active !== from) return false
    data.active = to
    return true
  })

  const dropGeneration = Effect.fn("MemoryReadModelStore.dropGeneration")(function* (generation: Generation) {
    const { projection, generation: n } = generation
    yield* Validate.generation("dropGeneration", projection, n)
    if (activeOf(projection) === n)
      return yield* failure("dropGeneration", `generation ${n} of ${projection} is active; switch away from it first`)
    const data = existing(projection, n)
    if (data === undefined) return 0
    const now = yield* Clock.currentTimeMillis
    let docs = 0
    for (const key of data.docs.keys()) if (liveDoc(data, key, now) !== undefined) docs++
    projections.get(projection)?.generations.delete(n)
    // The checkpoint counts as a key, as it is one in Redis, and so do the partition checkpoints (one hash).
    return docs + data.indexes.size + 1 + (data.partitions.size > 0 ? 1 : 0)
  })

  const generations = (projection: string) =>
    Effect.flatMap(Validate.projection("generations", projection), () =>
      Effect.sync(() => {
        const data = projections.get(projection)
        if (data === undefined) return []
        const numbers = new Set(data.generations.keys())
        if (data.active !== undefined) numbers.add(data.active)
        return [...numbers].sort((a, b) => a - b)
      })
    )

  const scan = (generation: Generation): Stream.Stream<Entry, ReadModelError> =>
    Stream.fromIterableEffect(
      Effect.gen(function* () {
        yield* Validate.generation("scan", generation.projection, generation.generation)
        const now = yield* Clock.currentTimeMillis
        const data = existing(generation.projection, generation.generation)
        const entries: Array<Entry> = []
        if (data === undefined) return entries
        for (const key of data.docs.keys()) {
          const doc = liveDoc(data, key, now)
          if (doc !== undefined && doc.json !== "") {
            entries.push({ _tag: "Doc", key, doc: { version: doc.version, json: doc.json } })
          }
        }
        for (const [key, index] of data.indexes) {
          const all: ReadonlyArray<IndexEntry> = index.all()
          entries.push({ _tag: "Index", key, entries: all })
        }
        return entries
      })
    )

  return ReadModelStore.of({
    activeGeneration,
    checkpoint,
    partitionCheckpoint,
    commit,
    getDocs,
    fill,
    indexRange,
    indexRangeByMember,
    newGeneration,
    switchActive,
    dropGeneration,
    generations,
    scan,
    ping: Effect.void
  })
})

/** A fresh in-process store, empty at start and gone with the layer. */
export const layer: Layer.Layer<ReadModelStore> = Layer.effect(ReadModelStore, make)
