/**
 * Blue/green rebuild of one projection, safe while the live one runs:
 *
 * 1. a new, inactive generation is filled from the whole event log (each page
 *    committed to the store while the next is read from PostgreSQL and
 *    applied), until it has caught up with the live generation's checkpoint;
 * 2. the two are compared: documents at the same version must be equal, and
 *    indexes must hold the same members. What differs only because the live
 *    one moved on meanwhile is checked again after another catch-up; what
 *    still differs is reported. Documents the live generation does not hold
 *    (expired from the cache, never read) are counted, not reported;
 * 3. unless it is a dry run, the active pointer is switched to the new
 *    generation (compare-and-set: refused if another rebuild switched first).
 *    The live runner's next commit is then refused as `not_active` and it
 *    restarts on the new generation from its checkpoint. The old generation is
 *    dropped after a grace period that outlasts readers' cached pointer.
 */
import { EventStore } from "@agora/eventstore"
import { Clock, Duration, Effect, Fiber, Stream } from "effect"
import type { Projection } from "./Projection.ts"
import { applyPage, keysToLoad, noteOrigin } from "./ProjectionRunner.ts"
import { type Entry, type Generation, type ReadModelError, ReadModelStore, type StaleCommit } from "./ReadModelStore.ts"
import { WorkingSet } from "./WorkingSet.ts"

export interface RebuildProgress {
  readonly position: number
  readonly target: number
  readonly events: number
}

export interface Difference {
  readonly key: string
  readonly kind: "doc" | "index"
  readonly live: string | undefined
  readonly rebuilt: string | undefined
}

export interface RebuildReport {
  readonly projection: string
  readonly from: number
  readonly to: number
  readonly events: number
  readonly parked: number
  readonly elapsedMs: number
  readonly eventsPerSecond: number
  readonly docs: number
  readonly indexes: number
  readonly equal: number
  /** Documents the rebuilt generation has and the live one does not hold (expired or never read). */
  readonly coldInLive: number
  readonly differences: ReadonlyArray<Difference>
  readonly switched: boolean
  readonly dropped: number
}

export interface RebuildOptions {
  /** Events per page and per commit (default 5,000). */
  readonly batchSize?: number
  /** Compare only: leave the live generation active and drop the rebuilt one. */
  readonly dryRun?: boolean
  /** How long the old generation is kept after the switch (default 5 s: readers cache the pointer ≤ 1 s). */
  readonly grace?: Duration.Input
  /** Skip the comparison (e.g. when the live generation is known to be empty). */
  readonly compare?: boolean
  readonly onProgress?: (progress: RebuildProgress) => void
}

const entryText = (entry: Entry | undefined): string | undefined => {
  if (entry === undefined) return undefined
  if (entry._tag === "Doc") return `v${entry.doc.version} ${entry.doc.json}`
  return entry.entries.map((e) => `${e.score} ${e.member}`).join("\n")
}

/** Rebuilds `projection` into a new generation, compares, and switches to it. */
export const rebuild = (projection: Projection, options: RebuildOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const events = yield* EventStore
    const batchSize = options.batchSize ?? 5_000
    const started = yield* Clock.currentTimeMillis
    const liveNumber = yield* store.activeGeneration(projection.name)
    const live: Generation = { projection: projection.name, generation: liveNumber }
    const fresh = yield* store.newGeneration(projection.name)
    const working = new WorkingSet(Number.MAX_SAFE_INTEGER)
    let checkpoint = 0
    let count = 0
    let parked = 0

    /**
     * Reads and applies pages until the new generation has reached `target`.
     * Each page's commit runs while the next page is read and applied (one
     * commit in flight; the store runs them in the order issued, and a refused
     * one, or one that fails twice, fails the rebuild at the next page).
     */
    const catchUp = (target: number) =>
      Effect.gen(function* () {
        let committing: Fiber.Fiber<number, StaleCommit | ReadModelError> | undefined
        const settle = Effect.gen(function* () {
          if (committing === undefined) return
          const position = yield* Fiber.join(committing)
          committing = undefined
          options.onProgress?.({ position, target, events: count })
        })
        let page = yield* events.readAll({ after: checkpoint, limit: batchSize })
        while (page.length > 0 && checkpoint < target) {
          const last = page.at(-1)!
          // The new generation was empty when it was made, and only this rebuild writes into it (readers
          // fill the active one): a document the working set does not hold is missing, no need to ask.
          for (const key of keysToLoad(projection, page, working)) working.load(key, undefined)
          noteOrigin(page, checkpoint, working)
          parked += applyPage(projection, page, working).parked
          const writes = working.flush()
          yield* settle
          const position = last.position
          const commit = store.commit(fresh, {
            expectedCheckpoint: checkpoint,
            checkpoint: position,
            writes,
            requireActive: false
          })
          // A commit that failed in transit (a timeout: its reply was late) may still have been applied;
          // the generation's checkpoint, read after it, tells. One that was not applied is sent once more.
          const expected = checkpoint
          const settled = Effect.catchTag(commit, "ReadModelError", (error) =>
            Effect.flatMap(store.checkpoint(fresh), (found) =>
              found === position ? Effect.void : found === expected ? commit : Effect.fail(error)
            )
          )
          committing = yield* Effect.forkChild(Effect.as(settled, position))
          count += page.length
          checkpoint = position
          page = position >= target ? [] : yield* events.readAll({ after: checkpoint, limit: batchSize })
        }
        yield* settle
      })

    const from = checkpoint
    yield* catchUp(yield* events.headPosition)
    yield* catchUp(yield* store.checkpoint(live))
    const built = yield* Clock.currentTimeMillis

    // Compare.
    const differences: Array<Difference> = []
    let equal = 0
    let coldInLive = 0
    let docs = 0
    let indexes = 0
    if (options.compare !== false) {
      const collect = (generation: Generation) =>
        Effect.gen(function* () {
          const map = new Map<string, Entry>()
          yield* Stream.runForEach(store.scan(generation), (entry) =>
            Effect.sync(() => void map.set(`${entry._tag}:${entry.key}`, entry))
          )
          return map
        })
      const rebuilt = yield* collect(fresh)
      let liveEntries = yield* collect(live)
      let suspects = new Set<string>()
      const check = (a: Entry | undefined, b: Entry | undefined) => {
        if (a?._tag === "Doc" && b === undefined) return "cold" as const
        if (a?._tag === "Doc" && b?._tag === "Doc") {
          if (a.doc.version !== b.doc.version) return "suspect" as const
          return a.doc.json === b.doc.json ? ("equal" as const) : ("suspect" as const)
        }
        return entryText(a) === entryText(b) ? ("equal" as const) : ("suspect" as const)
      }
      for (const [key, entry] of rebuilt) {
        if (entry._tag === "Doc") docs++
        else indexes++
        const outcome = check(entry, liveEntries.get(key))
        if (outcome === "cold") coldInLive++
        else if (outcome === "equal") equal++
        else suspects.add(key)
      }
      for (const key of liveEntries.keys()) if (!rebuilt.has(key)) suspects.add(key)

      // What differs may only be the live generation moving on: catch up and look again, a few times.
      for (let round = 0; round < 3 && suspects.size > 0; round++) {
        yield* Effect.sleep(Duration.millis(200))
        yield* catchUp(yield* store.checkpoint(live))
        const again = new Set<string>()
        const rebuiltNow = yield* collect(fresh)
        liveEntries = yield* collect(live)
        for (const key of suspects) {
          const outcome = check(rebuiltNow.get(key), liveEntries.get(key))
          if (outcome === "equal") equal++
          else if (outcome === "cold") coldInLive++
          else again.add(key)
        }
        suspects = again
        if (suspects.size === 0) break
        for (const key of suspects) rebuilt.set(key, rebuiltNow.get(key) as Entry)
      }
      for (const key of suspects) {
        const a = rebuilt.get(key)
        const b = liveEntries.get(key)
        differences.push({
          key: key.slice(key.indexOf(":") + 1),
          kind: key.startsWith("Doc:") ? "doc" : "index",
          live: entryText(b),
          rebuilt: entryText(a)
        })
      }
    }

    let switched = false
    let dropped = 0
    if (options.dryRun === true) {
      dropped = yield* store.dropGeneration(fresh)
    } else {
      switched = yield* store.switchActive(projection.name, live.generation, fresh.generation)
      if (switched) {
        yield* Effect.sleep(options.grace ?? Duration.seconds(5))
        dropped = yield* store.dropGeneration(live)
      } else {
        dropped = yield* store.dropGeneration(fresh)
      }
    }
    const elapsedMs = built - started
    return {
      projection: projection.name,
      from,
      to: checkpoint,
      events: count,
      parked,
      elapsedMs,
      eventsPerSecond: elapsedMs > 0 ? Math.round((count / elapsedMs) * 1000) : count,
      docs,
      indexes,
      equal,
      coldInLive,
      differences,
      switched,
      dropped
    } satisfies RebuildReport
  })
