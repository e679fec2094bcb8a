/**
 * Actors hosted in this process. An instance (a "cell") is created on its first
 * command, activated from the latest snapshot plus the events after it, and then
 * keeps its state and version in memory; a permit of one serialises its
 * commands. Cells are dropped when idle and, least recently used first, when
 * more than `maxResident` are in memory — never while a command is waiting.
 *
 * The version a cell holds is the expected version of its next append. When
 * another process wrote first, the append conflicts, the cell reads what it
 * missed and decides again, up to `maxAttempts` times.
 */
import { type Aggregate, fold, streamId } from "@agora/domain"
import {
  EventStore,
  type EventStoreError,
  ExpectedVersion,
  type NewEvent,
  type RecordedEvent,
  SnapshotStore,
  Uuid
} from "@agora/eventstore"
import { Clock, Duration, Effect, Layer, Metric, Option, Random, Schedule, Schema, Semaphore } from "effect"
import * as ActorMetrics from "./ActorMetrics.ts"
import {
  type ActorError,
  ActorRuntime,
  type CommandContext,
  type CommandResult,
  ConcurrencyConflict
} from "./ActorRuntime.ts"

export interface Options {
  /** Snapshot a cell when this many events were appended since its last snapshot (default 100). */
  readonly snapshotEvery?: number
  /** Drop a cell unused for this long (default 5 minutes). */
  readonly idleTimeout?: Duration.Input
  /** At most this many cells in memory (default 50,000). */
  readonly maxResident?: number
  /** Decide-and-append attempts before a command fails with ConcurrencyConflict (default 5). */
  readonly maxAttempts?: number
}

interface Cell {
  readonly key: string
  readonly permit: Semaphore.Semaphore
  loaded: boolean
  state: unknown
  version: number
  snapshotVersion: number
  pending: number
  lastUsed: number
}

// biome-ignore lint/suspicious/noExplicitAny: the runtime hosts aggregates of every type; each call is typed at `send`
type AnyAggregate = Aggregate<any, any, any, any>

interface Codecs {
  readonly decodeEvent: (input: unknown) => { readonly _tag: string }
  readonly encodeEvent: (event: { readonly _tag: string }) => Record<string, unknown>
  readonly decodeState: (input: unknown) => unknown
  readonly encodeState: (state: unknown) => unknown
}

const codecCache = new WeakMap<AnyAggregate, Codecs>()
const codecsOf = (aggregate: AnyAggregate): Codecs => {
  let codecs = codecCache.get(aggregate)
  if (codecs === undefined) {
    codecs = {
      decodeEvent: Schema.decodeUnknownSync(aggregate.eventSchema),
      encodeEvent: Schema.encodeSync(aggregate.eventSchema) as Codecs["encodeEvent"],
      decodeState: Schema.decodeUnknownSync(aggregate.stateSchema),
      encodeState: Schema.encodeSync(aggregate.stateSchema)
    }
    codecCache.set(aggregate, codecs)
  }
  return codecs
}

/** A stored event back as a domain event: the stored type is the tag, the data the rest. */
const toDomain = (codecs: Codecs, event: RecordedEvent) =>
  codecs.decodeEvent({ ...(event.data as Record<string, unknown>), _tag: event.type })

export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const snapshotEvery = options.snapshotEvery ?? 100
    const idleMillis = Duration.toMillis(options.idleTimeout ?? "5 minutes")
    const maxResident = options.maxResident ?? 50_000
    const maxAttempts = options.maxAttempts ?? 5

    // Insertion order is recency order: a used cell is moved to the end.
    const cells = new Map<string, Cell>()
    let waiting = 0

    const passivate = (cell: Cell) => {
      cells.delete(cell.key)
      return Metric.update(ActorMetrics.passivations, 1)
    }

    const acquire = (key: string, now: number): Cell => {
      let cell = cells.get(key)
      if (cell === undefined) {
        cell = {
          key,
          permit: Semaphore.makeUnsafe(1),
          loaded: false,
          state: undefined,
          version: 0,
          snapshotVersion: 0,
          pending: 0,
          lastUsed: now
        }
      } else {
        cells.delete(key)
      }
      cells.set(key, cell)
      cell.pending++
      cell.lastUsed = now
      waiting++
      return cell
    }

    const release = (cell: Cell) =>
      Effect.suspend(() => {
        cell.pending--
        waiting--
        const over = cells.size - maxResident
        const evicted: Array<Cell> = []
        if (over > 0) {
          for (const candidate of cells.values()) {
            if (evicted.length >= over) break
            if (candidate.pending === 0) evicted.push(candidate)
          }
        }
        return Effect.forEach(evicted, passivate, { discard: true }).pipe(
          Effect.andThen(Metric.update(ActorMetrics.mailboxDepth, waiting))
        )
      })

    // Reads what the cell has not seen yet and folds it in.
    const catchUp = (aggregate: AnyAggregate, cell: Cell): Effect.Effect<void, EventStoreError> =>
      Effect.map(store.readStream(cell.key, { fromVersion: cell.version + 1 }), (stored) => {
        const last = stored.at(-1)
        if (last === undefined) return
        const codecs = codecsOf(aggregate)
        cell.state = fold(
          aggregate,
          cell.state,
          stored.map((e) => toDomain(codecs, e))
        )
        cell.version = last.version
      })

    const activate = (aggregate: AnyAggregate, cell: Cell) =>
      Effect.gen(function* () {
        cell.state = aggregate.initialState
        cell.version = 0
        const snapshot = yield* snapshots.load(cell.key)
        if (Option.isSome(snapshot) && snapshot.value.schemaVersion === aggregate.stateVersion) {
          // An unreadable snapshot is ignored: the stream is the truth.
          const state = Option.liftThrowable(codecsOf(aggregate).decodeState)(snapshot.value.data)
          if (Option.isSome(state)) {
            cell.state = state.value
            cell.version = snapshot.value.version
          }
        }
        cell.snapshotVersion = cell.version
        yield* catchUp(aggregate, cell)
        cell.loaded = true
        yield* Metric.update(ActorMetrics.activations, 1)
      })

    const ensureLoaded = (aggregate: AnyAggregate, cell: Cell) =>
      cell.loaded ? Effect.void : activate(aggregate, cell)

    const maybeSnapshot = (aggregate: AnyAggregate, cell: Cell) =>
      cell.version - cell.snapshotVersion < snapshotEvery
        ? Effect.void
        : Effect.suspend(() => {
            const version = cell.version
            cell.snapshotVersion = version
            return snapshots
              .save({
                streamId: cell.key,
                version,
                schemaVersion: aggregate.stateVersion,
                data: codecsOf(aggregate).encodeState(cell.state)
              })
              .pipe(Effect.catchTag("EventStoreError", (error) => Effect.logWarning("snapshot not saved", error)))
          })

    const toNewEvents = (
      aggregate: AnyAggregate,
      cell: Cell,
      events: ReadonlyArray<{ readonly _tag: string }>,
      context: CommandContext
    ): Array<NewEvent> => {
      const codecs = codecsOf(aggregate)
      const metadata = {
        ...(context.correlationId === undefined ? {} : { correlationId: context.correlationId }),
        ...((context.causationId ?? context.commandId) === undefined
          ? {}
          : { causationId: (context.causationId ?? context.commandId) as string })
      }
      return events.map((event, i) => {
        const { _tag, ...data } = codecs.encodeEvent(event)
        return {
          eventId: context.commandId === undefined ? Uuid.v7() : Uuid.fromName(`${cell.key}/${context.commandId}/${i}`),
          type: event._tag,
          data,
          metadata
        }
      })
    }

    const handle = (aggregate: AnyAggregate, cell: Cell, command: unknown, context: CommandContext) =>
      Effect.gen(function* () {
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          yield* ensureLoaded(aggregate, cell)
          const decision = aggregate.decide(command, cell.state)
          if (decision._tag === "Failure") {
            yield* Metric.update(Metric.withAttributes(ActorMetrics.commands, { outcome: "rejected" }), 1)
            return yield* Effect.fail(decision.failure)
          }
          const events: ReadonlyArray<{ readonly _tag: string }> = decision.success
          if (events.length === 0) {
            yield* Metric.update(Metric.withAttributes(ActorMetrics.commands, { outcome: "unchanged" }), 1)
            return { events, version: cell.version, state: cell.state, position: undefined }
          }
          const appended = yield* store
            .append(cell.key, ExpectedVersion.exact(cell.version), toNewEvents(aggregate, cell, events, context))
            .pipe(
              Effect.map(Option.some),
              Effect.catchTags({
                WrongExpectedVersion: () => Effect.as(Metric.update(ActorMetrics.conflicts, 1), Option.none()),
                InvalidAppend: (error) => Effect.die(error),
                // The command's ids are in the stream already: it was applied before.
                DuplicateEventId: () => Effect.succeed(Option.none())
              }),
              // After a failure of unknown outcome the cell cannot trust its version.
              Effect.tapError(() =>
                Effect.sync(() => {
                  cell.loaded = false
                })
              )
            )
          if (Option.isNone(appended)) {
            // A writer that keeps appending would win every immediate retry:
            // wait a random, growing moment before catching up and trying again.
            yield* Effect.sleep(Duration.millis(yield* Random.nextBetween(0, Math.min(50, 2 ** attempt))))
            yield* catchUp(aggregate, cell)
            continue
          }
          const result = appended.value
          if (result.replayed) {
            yield* catchUp(aggregate, cell)
            yield* Metric.update(Metric.withAttributes(ActorMetrics.commands, { outcome: "replayed" }), 1)
            return { events, version: cell.version, state: cell.state, position: result.lastPosition }
          }
          cell.state = fold(aggregate, cell.state, events)
          cell.version = result.nextExpectedVersion
          yield* maybeSnapshot(aggregate, cell)
          yield* Metric.update(Metric.withAttributes(ActorMetrics.commands, { outcome: "applied" }), 1)
          return { events, version: cell.version, state: cell.state, position: result.lastPosition }
        }
        yield* Metric.update(Metric.withAttributes(ActorMetrics.commands, { outcome: "conflict" }), 1)
        return yield* Effect.fail(new ConcurrencyConflict({ streamId: cell.key, attempts: maxAttempts }))
      })

    const withCell = <A, E>(key: string, use: (cell: Cell) => Effect.Effect<A, E>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const cell = acquire(key, now)
        return Semaphore.withPermit(cell.permit, use(cell)).pipe(Effect.ensuring(release(cell)))
      })

    // Idle cells are dropped by a sweep, a few times per idle timeout.
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const idle = [...cells.values()].filter((c) => c.pending === 0 && now - c.lastUsed >= idleMillis)
        yield* Effect.forEach(idle, passivate, { discard: true })
      }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(Math.max(50, idleMillis / 4)))))
    )

    // The cells hold every aggregate's state as `unknown`; the port's signature
    // gives each call back its aggregate's own types.
    const send = <C, E extends { readonly _tag: string }, S, Err>(
      aggregate: Aggregate<C, E, S, Err>,
      id: string,
      command: C,
      context: CommandContext = {}
    ) =>
      withCell(streamId(aggregate, id), (cell) => handle(aggregate, cell, command, context)) as Effect.Effect<
        CommandResult<E, S>,
        Err | ActorError
      >

    const state = <C, E extends { readonly _tag: string }, S, Err>(aggregate: Aggregate<C, E, S, Err>, id: string) =>
      withCell(streamId(aggregate, id), (cell) =>
        Effect.map(ensureLoaded(aggregate, cell), () => ({ state: cell.state as S, version: cell.version }))
      )

    return ActorRuntime.of({ send, state, residentCount: Effect.sync(() => cells.size) })
  })

/** The in-process actor runtime over the event store and snapshot store in context. */
export const layer = (options: Options = {}): Layer.Layer<ActorRuntime, never, EventStore | SnapshotStore> =>
  Layer.effect(ActorRuntime, make(options))
