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
 * Split by stream (`partitions` > 1), each projection runs as that many
 * partitions: partition i applies the events of the streams that hash to it
 * (`Lease.partitionOf(streamId)`), commits its own checkpoint, and runs under
 * its own lease (`projection:<name>/<of>/<i>`), shared out among the processes
 * (`Lease.runPartitioned`). A document is folded from one stream, so exactly
 * one partition writes it; indexes several streams write to (a user's orders)
 * only get members added or removed by the streams they are about. The
 * projection's position is the lowest of its partitions'.
 *
 * `Projections` is what the rest of the process asks: where each projection
 * is (`position`, from this process's runner while it runs here, else from
 * the store), waiting for a position (read-your-writes), and a status per
 * projection for readiness reports.
 */
import { EventStore, type EventStoreError, Lease, type RecordedEvent } from "@agora/eventstore"
import { Cause, Clock, Context, Duration, Effect, Layer, Metric, Schedule, Stream } from "effect"
import type { Projection, WorkingDoc } from "./Projection.ts"
import { type Generation, type Partition, type ReadModelError, ReadModelStore, StaleCommit } from "./ReadModelStore.ts"
import { WorkingSet } from "./WorkingSet.ts"

/** The index of parked events in each generation; members are JSON `{position, stream_id, version, type, reason}`. */
export const parkedIndex = "@parked"

const lagBoundaries = Metric.boundariesFromIterable([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
])

const metricsOf = (projection: string, partition: Partition | undefined) => {
  const attributes = { projection }
  return {
    lag: Metric.histogram("agora_projection_lag_seconds", {
      description: "Time from an event's commit to its projection into the read model, by projection",
      boundaries: lagBoundaries,
      attributes
    }),
    position: Metric.gauge("agora_projection_position", {
      description:
        "Global position of the last event a projection has committed (each partition's, by partition, when split)",
      attributes: partition === undefined ? attributes : { projection, partition: `${partition.index}/${partition.of}` }
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
  /** Whether this process runs it, every partition of it (now: with leases, while it holds them). */
  readonly running: boolean
  /** How many partitions it is split into by stream (1: not split). */
  readonly partitions: number
  /** The partitions this process runs now. */
  readonly partitionsHere: ReadonlyArray<number>
  readonly generation: number | undefined
  /** The lowest position of the partitions this process ran. */
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
  /** Partitions each projection is split into by stream (default 1: not split; at most 256). */
  readonly partitions?: number
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

/**
 * One partition of `projection` (of `of`): the projection restricted to the
 * events of the streams in that partition. Unchanged when not split.
 */
const restrictedTo = (projection: Projection, partition: Partition | undefined): Projection => {
  if (partition === undefined) return projection
  const { index, of } = partition
  return {
    ...projection,
    handles: (event) => Lease.partitionOf(event.streamId, of) === index && projection.handles(event)
  }
}

/** How logs name a projection, or one partition of it. */
const labelOf = (name: string, partition: Partition | undefined) =>
  partition === undefined
    ? `projection ${name}`
    : `projection ${name} (partition ${partition.index} of ${partition.of})`

const runOnce = (whole: Projection, partition: Partition | undefined, tracker: Tracker, options: RunnerOptions) =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const events = yield* EventStore
    const projection = restrictedTo(whole, partition)
    const metrics = metricsOf(projection.name, partition)
    const label = labelOf(projection.name, partition)
    const generation: Generation = {
      projection: projection.name,
      generation: yield* store.activeGeneration(projection.name)
    }
    tracker.committed.clear()
    // Where to read from, and what the store holds for this runner (a partition's own checkpoint). A partition
    // without one of its own, or behind the projection's (a split changed, a generation rebuilt), starts from the
    // projection's: every event up to it is applied, and applying one again changes nothing (by version).
    const projectionAt = yield* store.checkpoint(generation)
    let stored = partition === undefined ? projectionAt : yield* store.partitionCheckpoint(generation, partition)
    let checkpoint = Math.max(stored, projectionAt)
    if (checkpoint > 0 && !(yield* sameLog(generation, checkpoint))) {
      // Built from another event log (the same Redis prefix pointed at another database): start over, blue/green.
      const fresh = yield* store.newGeneration(projection.name)
      yield* Effect.logError(
        `${label}: generation ${generation.generation} was built from another event log; rebuilding into generation ${fresh.generation}`
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
        name: partition === undefined ? leaseName(projection.name) : partitionLeaseName(projection.name, partition),
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
              expectedCheckpoint: stored,
              checkpoint: last.position,
              writes,
              requireActive: true,
              partition
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
            stored = checkpoint
            advance(tracker, checkpoint)
            const now = yield* Clock.currentTimeMillis
            const lagsMs = handled.map((event) => now - event.recordedAt.getTime())
            for (const lag of lagsMs) yield* Metric.update(metrics.lag, Math.max(0, lag) / 1000)
            yield* Metric.update(metrics.position, checkpoint)
            if (parked > 0) {
              yield* Metric.update(metrics.parked, parked)
              yield* Effect.logWarning(
                `${label}: parked ${parked} event(s) it could not apply (see its ${parkedIndex} index)`
              )
            }
            options.onCommit?.({ projection: projection.name, events: page.length, position: checkpoint, lagsMs })
          })
        )
      )
  })

/** Runs one projection until interrupted: restarts at once after a refused commit, after a pause after a failure. */
const runForever = (
  projection: Projection,
  partition: Partition | undefined,
  tracker: Tracker,
  options: RunnerOptions
) =>
  runOnce(projection, partition, tracker, options).pipe(
    Effect.catchTag("StaleCommit", (stale: StaleCommit) =>
      Effect.logInfo(
        `${labelOf(projection.name, partition)}: generation ${stale.generation} ${stale.reason === "not_active" ? "is no longer active" : `checkpoint moved to ${stale.found}`}; restarting`
      )
    ),
    Effect.tapCause((cause) =>
      Effect.sync(() => {
        tracker.lastError = Cause.pretty(cause).split("\n")[0]
      }).pipe(Effect.andThen(Effect.logError(`${labelOf(projection.name, partition)} failed; restarting`, cause)))
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

/** The lease a projection runs under, when the runner is given leases (the group of its partitions' leases). */
export const leaseName = (projection: string) => `projection:${projection}`

/** The lease of one partition of a projection split by stream: `projection:orders/4/1`. */
export const partitionLeaseName = (projection: string, partition: Partition) =>
  Lease.partitionName(leaseName(projection), partition.of, partition.index)

/**
 * The `Projections` service for `projections`; when `run` is true this process
 * also runs them (in the background, for the layer's lifetime) — with `lease`,
 * each (each partition, when split) only while this process holds its lease.
 */
export const layer = (
  projections: ReadonlyArray<Projection>,
  options: RunnerOptions & { readonly run: boolean; readonly lease?: Lease.Lease["Service"] | undefined }
): Layer.Layer<Projections, never, ReadModelStore | EventStore> =>
  Layer.effect(
    Projections,
    Effect.gen(function* () {
      const store = yield* ReadModelStore
      const split = options.partitions ?? 1
      if (!Number.isInteger(split) || split < 1 || split > 256)
        return yield* Effect.die(new Error(`projection partitions must be 1 to 256 (got ${split})`))
      const partitions: ReadonlyArray<Partition | undefined> =
        split === 1 ? [undefined] : Array.from({ length: split }, (_, index) => ({ index, of: split }))
      // Per projection, one tracker per partition (one when not split).
      const trackers = new Map<string, ReadonlyArray<Tracker>>()
      for (const projection of projections) {
        const own = partitions.map(
          (): Tracker => ({
            // Without a lease it runs here from the start: readers wait for this runner, not for the store.
            running: options.run && options.lease === undefined,
            position: 0,
            generation: undefined,
            lastError: undefined,
            waiters: [],
            committed: new Map()
          })
        )
        trackers.set(projection.name, own)
        if (!options.run) continue
        const here = (index: number) => {
          const tracker = own[index]!
          return Effect.acquireUseRelease(
            Effect.sync(() => {
              tracker.running = true
            }),
            () => runForever(projection, partitions[index], tracker, options),
            () =>
              Effect.sync(() => {
                // Another process may take over: what this one last committed is no longer the projection's.
                tracker.running = false
                tracker.committed.clear()
              })
          )
        }
        const { lease } = options
        if (lease === undefined) for (const index of own.keys()) yield* Effect.forkScoped(here(index))
        else
          yield* Effect.forkScoped(
            split === 1
              ? lease.run(leaseName(projection.name), here(0))
              : lease.runPartitioned(leaseName(projection.name), split, here)
          )
      }

      const storedPosition = (name: string) =>
        Effect.flatMap(store.activeGeneration(name), (generation) => store.checkpoint({ projection: name, generation }))

      /** The projection's trackers when every partition runs here (its position is then this process's to tell). */
      const allHere = (name: string) => {
        const own = trackers.get(name)
        return own?.every((tracker) => tracker.running) === true ? own : undefined
      }

      const position = (name: string) => {
        const own = allHere(name)
        return own === undefined
          ? storedPosition(name)
          : Effect.succeed(Math.min(...own.map((tracker) => tracker.position)))
      }

      /**
       * Waits until this process's runner of one partition has committed `min`: true; false when it stopped
       * running here first (its lease lost); fails with the store's error while the runner is failing on it.
       */
      const reachedHere = (tracker: Tracker, min: number) => {
        if (tracker.position >= min) return Effect.succeed(true)
        const woken = Effect.callback<boolean>((resume) => {
          const waiter = { min, wake: () => resume(Effect.succeed(true)) }
          tracker.waiters.push(waiter)
          return Effect.sync(() => {
            tracker.waiters = tracker.waiters.filter((w) => w !== waiter)
          })
        })
        // While the runner is failing, the store may be down: then this fails with the store's error (readers
        // answer from the event store instead of waiting in vain), rather than waiting out the timeout. When
        // the runner stops here (its lease lost), this stops waiting for it.
        const storeDownOrGone = Effect.gen(function* () {
          while (tracker.running) {
            if (tracker.lastError !== undefined) yield* store.ping
            yield* Effect.sleep("50 millis")
          }
          return false
        })
        return Effect.raceFirst(woken, storeDownOrGone)
      }

      const awaitPosition = (name: string, min: number, timeout: Duration.Input) =>
        Effect.gen(function* () {
          const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(timeout)
          const own = allHere(name)
          if (own !== undefined) {
            const reached = yield* Effect.forEach(own, (tracker) => reachedHere(tracker, min), {
              concurrency: "unbounded"
            }).pipe(Effect.timeoutOption(timeout))
            if (reached._tag === "None") return false
            if (reached.value.every(Boolean)) return true
          }
          // Another process runs it (or some of its partitions): poll the store.
          while ((yield* storedPosition(name)) < min) {
            if ((yield* Clock.currentTimeMillis) >= deadline) return false
            yield* Effect.sleep("10 millis")
          }
          return true
        })

      const status = Effect.sync(() =>
        projections.map((projection): ProjectionStatus => {
          const own = trackers.get(projection.name) ?? []
          const here = own.flatMap((tracker, index) => (tracker.running ? [index] : []))
          return {
            name: projection.name,
            running: here.length === own.length && own.length > 0,
            partitions: own.length,
            partitionsHere: here,
            generation: own.find((tracker) => tracker.generation !== undefined)?.generation,
            position: own.length === 0 ? 0 : Math.min(...own.map((tracker) => tracker.position)),
            lastError: own.find((tracker) => tracker.lastError !== undefined)?.lastError
          }
        })
      )

      // Not while the runner is failing: the store may be down, and readers must then fold the event store,
      // which has the writes the runner could not commit. A document is one partition's, the one holding it.
      const committed = (name: string, key: string) => {
        for (const tracker of trackers.get(name) ?? []) {
          if (!tracker.running || tracker.lastError !== undefined) continue
          const doc = tracker.committed.get(key)
          if (doc !== undefined) return doc
        }
        return undefined
      }

      return Projections.of({ position, awaitPosition, status, committed })
    })
  )

export type RunnerError = ReadModelError | EventStoreError
