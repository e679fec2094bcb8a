/**
 * Runs projections: each follows the global event log from its active
 * generation's checkpoint (the event store's gap-free subscription) and
 * commits every page of events — the writes `apply` made and the new
 * checkpoint — in one atomic step of the read-model store. So a crash between
 * two pages loses nothing and applies nothing twice: the next run starts from
 * the committed checkpoint with a fresh working set.
 *
 * An event a projection cannot apply (it does not decode) is **parked**: added
 * to the generation's `@parked` index with the reason, the documents it would
 * have changed dropped (readers then fold them from the event store), a
 * warning logged, a counter raised — and the projection goes on. A refused
 * commit (`StaleCommit`: a rebuild switched generations, or another runner
 * moved the checkpoint) restarts the run at once on the current generation;
 * a store failure restarts it after a growing pause.
 *
 * With a store other processes share (Redis), every process may be told to
 * run the projections: each runs only while this process holds the
 * projection's lease (`projection:<name>`), so one process at a time commits
 * to it (a stale runner's commit would be refused anyway: `StaleCommit`).
 *
 * `Projections` is what the rest of the process asks: where each projection
 * is (`position`, from this process's runner while it runs here, else from
 * the store), waiting for a position (read-your-writes), and a status per
 * projection for readiness reports.
 */
import { EventStore, type EventStoreError, type Lease, type RecordedEvent } from "@agora/eventstore"
import { Cause, Clock, Context, Duration, Effect, Layer, Metric, Schedule, Stream } from "effect"
import type { Projection, WorkingDoc } from "./Projection.ts"
import { type Generation, type ReadModelError, ReadModelStore, StaleCommit } from "./ReadModelStore.ts"
import { WorkingSet } from "./WorkingSet.ts"

/** The index of parked events in each generation; members are JSON `{position, stream_id, version, type, reason}`. */
export const parkedIndex = "@parked"

const lagBoundaries = Metric.boundariesFromIterable([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
])

const metricsOf = (projection: string) => {
  const attributes = { projection }
  return {
    lag: Metric.histogram("agora_projection_lag_seconds", {
      description: "Time from an event's commit to its projection into the read model, by projection",
      boundaries: lagBoundaries,
      attributes
    }),
    position: Metric.gauge("agora_projection_position", {
      description: "Global position of the last event a projection has committed",
      attributes
    }),
    parked: Metric.counter("agora_projection_parked_total", {
      description: "Events a projection could not apply and parked, with the reason in its @parked index",
      incremental: true,
      attributes
    })
  }
}

/** One projection's state as this process sees it. */
export interface ProjectionStatus {
  readonly name: string
  /** Whether this process runs it (now: with a lease, while it holds it). */
  readonly running: boolean
  readonly generation: number | undefined
  readonly position: number
  /** The last failure of its run, if it has not committed since. */
  readonly lastError: string | undefined
}

/** A page the runner committed (for benchmarks and tests). */
export interface CommittedBatch {
  readonly projection: string
  readonly events: number
  readonly position: number
  /** For each event the projection handled: commit time − the event's commit time, in ms. */
  readonly lagsMs: ReadonlyArray<number>
}

export interface RunnerOptions {
  /** Events read per query (default 1,000). */
  readonly batchSize?: number
  readonly onCommit?: (batch: CommittedBatch) => void
}

interface Tracker {
  /** Whether the runner runs here now: its position and documents are then the projection's. */
  running: boolean
  position: number
  generation: number | undefined
  lastError: string | undefined
  waiters: Array<{ readonly min: number; readonly wake: () => void }>
  /** The documents this process's runner committed last, decoded (bounded): reads need no store round trip. */
  committed: Map<string, WorkingDoc<unknown>>
}

/**
 * How many committed documents a runner keeps for this process's readers, per
 * projection: the latest written (reads of a document just changed are the
 * ones a store round trip would slow most), the longest unwritten out first.
 */
const committedCapacity = 10_000

const advance = (tracker: Tracker, position: number) => {
  tracker.position = position
  tracker.lastError = undefined
  if (tracker.waiters.length === 0) return
  const still: Tracker["waiters"] = []
  for (const waiter of tracker.waiters) {
    if (waiter.min <= position) waiter.wake()
    else still.push(waiter)
  }
  tracker.waiters = still
}

/** Applies one page of events to the working set; returns the writes and what was handled. */
export const applyPage = (
  projection: Projection,
  events: ReadonlyArray<RecordedEvent>,
  working: WorkingSet
): { readonly handled: ReadonlyArray<RecordedEvent>; readonly parked: number } => {
  const handled: Array<RecordedEvent> = []
  let parked = 0
  for (const event of events) {
    if (!projection.handles(event)) continue
    handled.push(event)
    let poison: string | undefined
    try {
      poison = projection.apply(event, working.context)?.poison
    } catch (error) {
      poison = error instanceof Error ? error.message : String(error)
    }
    if (poison === undefined) continue
    parked++
    working.context.indexAdd(
      parkedIndex,
      event.position,
      JSON.stringify({
        position: event.position,
        stream_id: event.streamId,
        version: event.version,
        type: event.type,
        reason: poison
      })
    )
    for (const key of projection.docKeys(event)) working.context.drop(key, event.version)
  }
  return { handled, parked }
}

/** The document keys a page needs that the working set does not hold. */
export const keysToLoad = (projection: Projection, events: ReadonlyArray<RecordedEvent>, working: WorkingSet) => {
  const keys = new Set<string>()
  for (const event of events) {
    if (!projection.handles(event)) continue
    for (const key of projection.docKeys(event)) keys.add(key)
  }
  return working.missing(keys)
}

/**
 * The document that ties a generation to the log it was built from: the id of
 * the log's first event, written with the first page.
 */
export const originKey = "@origin"

const originCodec = { encode: (eventId: string) => eventId, decode: (json: string) => json }

/** Adds the origin document to the first page of a generation. */
export const noteOrigin = (page: ReadonlyArray<RecordedEvent>, checkpoint: number, working: WorkingSet): void => {
  const first = page[0]
  if (checkpoint === 0 && first !== undefined && first.position === 1) {
    working.context.put(originKey, { version: 1, value: first.eventId }, originCodec)
  }
}

/**
 * Whether a generation at `checkpoint` was built from this event store's log:
 * its origin is the log's first event, and the log reaches its checkpoint.
 */
const sameLog = (generation: Generation, checkpoint: number) =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const events = yield* EventStore
    const [origin] = yield* store.getDocs(generation, [originKey])
    const [first] = yield* events.readAll({ after: 0, limit: 1 })
    if (origin === undefined || first === undefined) return false
    return origin.json === first.eventId && (yield* events.headPosition) >= checkpoint
  })

const runOnce = (projection: Projection, tracker: Tracker, options: RunnerOptions) =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const events = yield* EventStore
    const metrics = metricsOf(projection.name)
    const generation: Generation = {
      projection: projection.name,
      generation: yield* store.activeGeneration(projection.name)
    }
    tracker.committed.clear()
    let checkpoint = yield* store.checkpoint(generation)
    if (checkpoint > 0 && !(yield* sameLog(generation, checkpoint))) {
      // Built from another event log (the same Redis prefix pointed at another database): start over, blue/green.
      const fresh = yield* store.newGeneration(projection.name)
      yield* Effect.logError(
        `projection ${projection.name}: generation ${generation.generation} was built from another event log; rebuilding into generation ${fresh.generation}`
      )
      yield* store.switchActive(projection.name, generation.generation, fresh.generation)
      return yield* new StaleCommit({
        projection: projection.name,
        generation: generation.generation,
        reason: "not_active",
        found: checkpoint
      })
    }
    tracker.generation = generation.generation
    advance(tracker, checkpoint)
    yield* Metric.update(metrics.position, checkpoint)
    const working = new WorkingSet()
    return yield* events
      .subscribe({
        name: `projection:${projection.name}`,
        from: { after: checkpoint },
        batchSize: options.batchSize ?? 1_000
      })
      .pipe(
        Stream.runForEachArray((page) =>
          Effect.gen(function* () {
            const last = page.at(-1)
            if (last === undefined) return
            working.forgetMissing()
            const keys = keysToLoad(projection, page, working)
            if (keys.length > 0) {
              const docs = yield* store.getDocs(generation, keys)
              for (const [i, key] of keys.entries()) working.load(key, docs[i])
            }
            noteOrigin(page, checkpoint, working)
            const { handled, parked } = applyPage(projection, page, working)
            const writes = working.flush()
            yield* store.commit(generation, {
              expectedCheckpoint: checkpoint,
              checkpoint: last.position,
              writes,
              requireActive: true
            })
            // What is now committed, for this process's readers (before the checkpoint is announced).
            for (const write of writes) {
              if (write._tag === "Drop") tracker.committed.delete(write.key)
              else if (write._tag === "Put") {
                const held = working.held(write.key)
                tracker.committed.delete(write.key)
                if (held !== undefined) tracker.committed.set(write.key, held)
              }
            }
            let excess = tracker.committed.size - committedCapacity
            for (const key of tracker.committed.keys()) {
              if (excess-- <= 0) break
              tracker.committed.delete(key)
            }
            working.trim()
            checkpoint = last.position
            advance(tracker, checkpoint)
            const now = yield* Clock.currentTimeMillis
            const lagsMs = handled.map((event) => now - event.recordedAt.getTime())
            for (const lag of lagsMs) yield* Metric.update(metrics.lag, Math.max(0, lag) / 1000)
            yield* Metric.update(metrics.position, checkpoint)
            if (parked > 0) {
              yield* Metric.update(metrics.parked, parked)
              yield* Effect.logWarning(
                `projection ${projection.name}: parked ${parked} event(s) it could not apply (see its ${parkedIndex} index)`
              )
            }
            options.onCommit?.({ projection: projection.name, events: page.length, position: checkpoint, lagsMs })
          })
        )
      )
  })

/** Runs one projection until interrupted: restarts at once after a refused commit, after a pause after a failure. */
const runForever = (projection: Projection, tracker: Tracker, options: RunnerOptions) =>
  runOnce(projection, tracker, options).pipe(
    Effect.catchTag("StaleCommit", (stale: StaleCommit) =>
      Effect.logInfo(
        `projection ${projection.name}: generation ${stale.generation} ${stale.reason === "not_active" ? "is no longer active" : `checkpoint moved to ${stale.found}`}; restarting`
      )
    ),
    Effect.tapCause((cause) =>
      Effect.sync(() => {
        tracker.lastError = Cause.pretty(cause).split("\n")[0]
      }).pipe(Effect.andThen(Effect.logError(`projection ${projection.name} failed; restarting`, cause)))
    ),
    // Capped at 2 s: a store that is back is caught up with soon, and readers waiting for a position are not kept long.
    Effect.retry(Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced(Duration.seconds(2))])),
    Effect.forever
  )

export class Projections extends Context.Service<
  Projections,
  {
    /** The position the projection has committed (its active generation's checkpoint). */
    readonly position: (name: string) => Effect.Effect<number, ReadModelError>
    /** Waits until the projection has committed `min`, for at most `timeout`; false when it has not by then. */
    readonly awaitPosition: (
      name: string,
      min: number,
      timeout: Duration.Input
    ) => Effect.Effect<boolean, ReadModelError>
    readonly status: Effect.Effect<ReadonlyArray<ProjectionStatus>>
    /**
     * A document as this process's runner last committed it, decoded with the
     * projection's own codec — as current as the projection's position, which
     * is all a read promises — or `undefined` (not held, the projection runs
     * elsewhere, or its runner is failing): then read the store.
     */
    readonly committed: (name: string, key: string) => WorkingDoc<unknown> | undefined
  }
>()("@agora/readmodels/Projections") {}

/** The lease a projection runs under, when the runner is given leases. */
export const leaseName = (projection: string) => `projection:${projection}`

/**
 * The `Projections` service for `projections`; when `run` is true this process
 * also runs them (in the background, for the layer's lifetime) — with `lease`,
 * each only while this process holds its lease.
 */
export const layer = (
  projections: ReadonlyArray<Projection>,
  options: RunnerOptions & { readonly run: boolean; readonly lease?: Lease.Lease["Service"] | undefined }
): Layer.Layer<Projections, never, ReadModelStore | EventStore> =>
  Layer.effect(
    Projections,
    Effect.gen(function* () {
      const store = yield* ReadModelStore
      const trackers = new Map<string, Tracker>()
      for (const projection of projections) {
        const tracker: Tracker = {
          // Without a lease it runs here from the start: readers wait for this runner, not for the store.
          running: options.run && options.lease === undefined,
          position: 0,
          generation: undefined,
          lastError: undefined,
          waiters: [],
          committed: new Map()
        }
        trackers.set(projection.name, tracker)
        if (!options.run) continue
        const here = Effect.acquireUseRelease(
          Effect.sync(() => {
            tracker.running = true
          }),
          () => runForever(projection, tracker, options),
          () =>
            Effect.sync(() => {
              // Another process may take over: what this one last committed is no longer the projection's.
              tracker.running = false
              tracker.committed.clear()
            })
        )
        yield* Effect.forkScoped(
          options.lease === undefined ? here : options.lease.run(leaseName(projection.name), here)
        )
      }

      const storedPosition = (name: string) =>
        Effect.flatMap(store.activeGeneration(name), (generation) => store.checkpoint({ projection: name, generation }))

      const position = (name: string) => {
        const tracker = trackers.get(name)
        return tracker?.running === true ? Effect.succeed(tracker.position) : storedPosition(name)
      }

      const awaitPosition = (name: string, min: number, timeout: Duration.Input) =>
        Effect.gen(function* () {
          const tracker = trackers.get(name)
          const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(timeout)
          if (tracker?.running === true) {
            if (tracker.position >= min) return true
            const woken = Effect.callback<boolean>((resume) => {
              const waiter = { min, wake: () => resume(Effect.succeed(true)) }
              tracker.waiters.push(waiter)
              return Effect.sync(() => {
                tracker.waiters = tracker.waiters.filter((w) => w !== waiter)
              })
            })
            // While the runner is failing, the store may be down: then this fails with the store's error (readers
            // answer from the event store instead of waiting in vain), rather than waiting out the timeout. When
            // the runner stops here (its lease lost), this stops waiting for it and polls the store below.
            const storeDownOrGone = Effect.gen(function* () {
              while (tracker.running) {
                if (tracker.lastError !== undefined) yield* store.ping
                yield* Effect.sleep("50 millis")
              }
              return false
            })
            const reached = yield* Effect.raceFirst(woken, storeDownOrGone).pipe(Effect.timeoutOption(timeout))
            if (reached._tag === "None") return false
            if (reached.value) return true
          }
          // Another process runs it: poll the store.
          while ((yield* storedPosition(name)) < min) {
            if ((yield* Clock.currentTimeMillis) >= deadline) return false
            yield* Effect.sleep("10 millis")
          }
          return true
        })

      const status = Effect.sync(() =>
        projections.map((projection): ProjectionStatus => {
          const tracker = trackers.get(projection.name)
          return {
            name: projection.name,
            running: tracker?.running === true,
            generation: tracker?.generation,
            position: tracker?.position ?? 0,
            lastError: tracker?.lastError
          }
        })
      )

      // Not while the runner is failing: the store may be down, and readers must then fold the event store,
      // which has the writes the runner could not commit.
      const committed = (name: string, key: string) => {
        const tracker = trackers.get(name)
        return tracker?.running !== true || tracker.lastError !== undefined ? undefined : tracker.committed.get(key)
      }

      return Projections.of({ position, awaitPosition, status, committed })
    })
  )

export type RunnerError = ReadModelError | EventStoreError
