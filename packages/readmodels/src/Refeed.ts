/**
 * Re-feeds chosen events of the log to a projection's live generation — to
 * repair documents after a fix (a stream whose events were parked, say) —
 * without moving its checkpoint: every page is committed at the checkpoint the
 * generation is at, so the live runner goes on undisturbed. What a re-fed
 * event writes obeys the usual rules: a document is only replaced by a newer
 * version, one that cannot be brought up to date is dropped (readers fold its
 * stream), index writes are idempotent. So feeding a stream from its first
 * event rebuilds its document; feeding events the model already has changes
 * nothing.
 */
import type { EventStoreError, RecordedEvent } from "@agora/eventstore"
import { Effect, Stream } from "effect"
import type { Projection } from "./Projection.ts"
import { applyPage, keysToLoad } from "./ProjectionRunner.ts"
import { type Generation, type ReadModelError, ReadModelStore, type StaleCommit } from "./ReadModelStore.ts"
import { WorkingSet } from "./WorkingSet.ts"

export interface RefeedReport {
  readonly projection: string
  readonly generation: number
  readonly events: number
  readonly applied: number
  readonly parked: number
  readonly writes: number
}

/** Applies `pages` to the projection's active generation; the checkpoint stays where the live runner has it. */
export const refeed = <E>(
  projection: Projection,
  pages: Stream.Stream<ReadonlyArray<RecordedEvent>, E>
): Effect.Effect<RefeedReport, E | ReadModelError | StaleCommit | EventStoreError, ReadModelStore> =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const generation: Generation = {
      projection: projection.name,
      generation: yield* store.activeGeneration(projection.name)
    }
    const working = new WorkingSet(Number.MAX_SAFE_INTEGER)
    let events = 0
    let applied = 0
    let parked = 0
    let writes = 0
    yield* Stream.runForEach(pages, (page) =>
      Effect.gen(function* () {
        events += page.length
        const keys = keysToLoad(projection, page, working)
        if (keys.length > 0) {
          const docs = yield* store.getDocs(generation, keys)
          for (const [i, key] of keys.entries()) working.load(key, docs[i])
        }
        const result = applyPage(projection, page, working)
        applied += result.handled.length
        parked += result.parked
        const batch = working.flush()
        writes += batch.length
        if (batch.length === 0) return
        // Committed at the checkpoint it is at: retried when the live runner moved it meanwhile.
        const commit = Effect.flatMap(store.checkpoint(generation), (at) =>
          store.commit(generation, { expectedCheckpoint: at, checkpoint: at, writes: batch, requireActive: true })
        )
        yield* commit.pipe(
          Effect.retry({
            while: (error) => error._tag === "StaleCommit" && error.reason === "checkpoint_moved",
            times: 20
          })
        )
      })
    )
    return { projection: projection.name, generation: generation.generation, events, applied, parked, writes }
  })
