/**
 * Cache-aside reads of the read models: a document from the store when it is
 * there, else folded from the event store (through the actor, which reads a
 * snapshot and the stream's tail) and put back for the next reader — guarded
 * by version, so a fill never replaces a newer document the projection wrote
 * meanwhile. When the store is down, reads still answer from the event store
 * (and nothing is filled); a warning is logged at most every 10 seconds.
 *
 * When this process runs the projection, the documents its runner last
 * committed are read from it directly (decoded, no store round trip); others
 * come from the store. Decoded documents are kept per key with their JSON
 * text: an unchanged document is decoded once, however often it is read.
 */
import { type DocCodec, Projections, type ReadModelError, ReadModelStore, type WorkingDoc } from "@agora/readmodels"
import { Clock, Effect } from "effect"

const warnEveryMs = 10_000
const decodedCapacity = 20_000

export const make = Effect.gen(function* () {
  const store = yield* ReadModelStore
  const projections = yield* Projections
  let lastWarning = 0
  const decoded = new Map<string, { readonly json: string; readonly value: unknown }>()

  /** Logs a store failure (throttled); the read goes on without the store. */
  const storeDown = (error: ReadModelError) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (now - lastWarning < warnEveryMs) return Effect.void
      lastWarning = now
      return Effect.logWarning("Read models: the store failed; reads answer from the event store meanwhile", error)
    })

  const decode = <V>(projection: string, key: string, json: string, codec: DocCodec<V>): V | undefined => {
    const cacheKey = `${projection}/${key}`
    const hit = decoded.get(cacheKey)
    if (hit !== undefined && hit.json === json) return hit.value as V
    try {
      const value = codec.decode(json)
      if (decoded.size >= decodedCapacity) decoded.clear()
      decoded.set(cacheKey, { json, value })
      return value
    } catch {
      // Written by code with another shape of the document: a miss, refilled below from the event store.
      return undefined
    }
  }

  /**
   * Documents by key: from the store, else from `fold` (then filled). `fold`
   * answers `undefined` for an entity that does not exist (nothing is filled).
   */
  const readMany = <V, E, R>(options: {
    readonly projection: string
    readonly keys: ReadonlyArray<string>
    readonly codec: DocCodec<V>
    readonly ttlSeconds: number | undefined
    readonly fold: (key: string) => Effect.Effect<WorkingDoc<V> | undefined, E, R>
  }): Effect.Effect<ReadonlyArray<WorkingDoc<V> | undefined>, E, R> =>
    Effect.gen(function* () {
      const { projection, keys, codec, ttlSeconds, fold } = options
      const target = { projection }
      // Held by this process's own runner as it committed them: no store round trip (the hot path).
      const local = keys.map((key) => projections.committed(projection, key) as WorkingDoc<V> | undefined)
      if (local.every((doc) => doc !== undefined)) return local
      const stored = yield* store.getDocs(target, keys).pipe(
        Effect.map((docs) => ({ up: true as const, docs })),
        Effect.catch((error: ReadModelError) =>
          Effect.as(storeDown(error), { up: false as const, docs: keys.map(() => undefined) })
        )
      )
      return yield* Effect.forEach(
        keys,
        (key, i) => {
          const held = local[i]
          if (held !== undefined) return Effect.succeed(held)
          const doc = stored.docs[i]
          if (doc !== undefined) {
            const value = decode(projection, key, doc.json, codec)
            if (value !== undefined) return Effect.succeed({ version: doc.version, value })
          }
          return Effect.tap(fold(key), (folded) =>
            folded === undefined || !stored.up
              ? Effect.void
              : store
                  .fill(target, key, { version: folded.version, json: codec.encode(folded.value) }, ttlSeconds)
                  .pipe(Effect.catch(storeDown))
          )
        },
        { concurrency: 16 }
      )
    })

  const readOne = <V, E, R>(options: {
    readonly projection: string
    readonly key: string
    readonly codec: DocCodec<V>
    readonly ttlSeconds: number | undefined
    readonly fold: Effect.Effect<WorkingDoc<V> | undefined, E, R>
  }): Effect.Effect<WorkingDoc<V> | undefined, E, R> =>
    Effect.map(readMany({ ...options, keys: [options.key], fold: () => options.fold }), (docs) => docs[0])

  return { readMany, readOne, storeDown, store }
})

export type ReadThrough = Effect.Success<typeof make>
