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
  Spans,
  Uuid
} from "@agora/eventstore"
import {
  Cause,
  Clock,
  Config,
  Deferred,
  Duration,
  Effect,
  Exit,
  Layer,
  Metric,
  Option,
  Random,
  Schedule,
  Schema,
  Semaphore
} from "effect"
import * as ActorMetrics from "./ActorMetrics.ts"
import {
  type ActorError,
  ActorRuntime,
  type CommandContext,
  type CommandResult,
  ConcurrencyConflict,
  noteWrite,
  outcomeOf,
  type StateOptions,
  withKeyedCommandId
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
  /** Commands of one actor decided together and written in one append, at most (default 100). */
  readonly maxBatch?: number
  /**
   * Others may append to these streams without going through this runtime
   * (default false: this runtime is the only writer, its cells are the
   * truth). True: a refusal or a no-op decided on a resident cell, and a
   * state read, first catch the cell up with its stream — an append is
   * checked by its expected version anyway, a refusal would not be.
   */
  readonly cellsMayBeStale?: boolean
}

interface Entry {
  readonly command: unknown
  readonly context: CommandContext
  readonly done: Deferred.Deferred<CommandResult<unknown, unknown>, unknown>
}

type Decision =
  | { readonly _tag: "Rejected"; readonly error: unknown }
  | {
      readonly _tag: "Decided"
      readonly events: ReadonlyArray<{ readonly _tag: string }>
      readonly state: unknown
      /** How many of the batch's events exist up to and including this command's. */
      readonly eventsUpTo: number
    }

interface Cell {
  readonly key: string
  readonly permit: Semaphore.Semaphore
  readonly mailbox: Array<Entry>
  loaded: boolean
  /** Loaded as new without reading (`expectNew`), not yet confirmed by an append or a read of its stream. */
  assumedNew: boolean
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

/** A command's name for its span: its tag (every command is a tagged class). */
const tagOf = (command: unknown): string =>
  typeof command === "object" && command !== null && "_tag" in command ? String(command._tag) : "Command"

/** Events read with the snapshot when an instance is activated (its whole stream, if it is short). */
const activationReadAhead = 128

/**
 * The runtime together with a way to drop cells, for an adapter that decides
 * where an instance lives (the cluster runtime drops a cell when its node
 * stops owning the instance, so a later return reloads it instead of deciding
 * on stale state).
 */
export interface Local {
  readonly runtime: ActorRuntime["Service"]
  /** Drops the cell of stream `key` unless a command is waiting on it. */
  readonly evict: (key: string) => Effect.Effect<void>
  /** Drops every cell whose stream `drop` names, but those a command is waiting on. */
  readonly evictWhere: (drop: (key: string) => boolean) => Effect.Effect<void>
}

export const makeLocal = (options: Options = {}) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const snapshotEvery = options.snapshotEvery ?? 100
    const idleMillis = Duration.toMillis(options.idleTimeout ?? "5 minutes")
    const maxResident = options.maxResident ?? 50_000
    const maxAttempts = options.maxAttempts ?? 5
    const maxBatch = options.maxBatch ?? 100
    const mayBeStale = options.cellsMayBeStale ?? false

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
          mailbox: [],
          loaded: false,
          assumedNew: false,
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
    // Suspended: the version to read from is the cell's when the read runs, not when the effect was built (a
    // caller may build it before waiting for the cell's permit, while a command moves the cell on).
    const catchUp = (aggregate: AnyAggregate, cell: Cell): Effect.Effect<void, EventStoreError> =>
      Effect.map(
        Effect.suspend(() => store.readStream(cell.key, { fromVersion: cell.version + 1 })),
        (stored) => {
          cell.assumedNew = false
          const last = stored.at(-1)
          if (last === undefined) return
          const codecs = codecsOf(aggregate)
          cell.state = fold(
            aggregate,
            cell.state,
            stored.map((e) => toDomain(codecs, e))
          )
          cell.version = last.version
        }
      )

    /**
     * Loads the snapshot and the head of the stream at once (one round trip's
     * wait, not two): most instances are new or short, and their whole stream
     * comes with that first read. Events the snapshot already holds are
     * skipped; a longer stream is read on from where the snapshot or the
     * first read ended.
     */
    const activate = (aggregate: AnyAggregate, cell: Cell) =>
      Effect.gen(function* () {
        cell.state = aggregate.initialState
        cell.version = 0
        const [snapshot, head] = yield* Effect.all(
          [snapshots.load(cell.key), store.readStream(cell.key, { fromVersion: 1, maxCount: activationReadAhead })],
          { concurrency: 2 }
        )
        if (Option.isSome(snapshot) && snapshot.value.schemaVersion === aggregate.stateVersion) {
          // An unreadable snapshot is ignored: the stream is the truth.
          const state = Option.liftThrowable(codecsOf(aggregate).decodeState)(snapshot.value.data)
          if (Option.isSome(state)) {
            cell.state = state.value
            cell.version = snapshot.value.version
          }
        }
        cell.snapshotVersion = cell.version
        const codecs = codecsOf(aggregate)
        const fresh = head.filter((event) => event.version > cell.version)
        const last = fresh.at(-1)
        // Only a gap-free continuation of the state's version can be folded onto it.
        if (last !== undefined && fresh[0]!.version === cell.version + 1) {
          cell.state = fold(
            aggregate,
            cell.state,
            fresh.map((e) => toDomain(codecs, e))
          )
          cell.version = last.version
        }
        if (head.length === activationReadAhead || (last !== undefined && cell.version !== last.version)) {
          yield* catchUp(aggregate, cell)
        }
        cell.loaded = true
        yield* Metric.update(ActorMetrics.activations, 1)
      })

    /** Loads a cell not in memory: from the store, or (`expectNew`) as a new instance, without reading. */
    const ensureLoaded = (aggregate: AnyAggregate, cell: Cell, expectNew = false) => {
      if (cell.loaded) return Effect.void
      if (!expectNew) return activate(aggregate, cell)
      cell.state = aggregate.initialState
      cell.version = 0
      cell.snapshotVersion = 0
      cell.assumedNew = true
      cell.loaded = true
      return Effect.void
    }

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

    const eventIdOf = (cell: Cell, context: CommandContext, i: number) =>
      context.commandId === undefined ? Uuid.v7() : Uuid.fromName(`${cell.key}/${context.commandId}/${i}`)

    const metadataOf = (context: CommandContext) => {
      const causationId = context.causationId ?? context.commandId
      return {
        ...(context.correlationId === undefined ? {} : { correlationId: context.correlationId }),
        ...(causationId === undefined ? {} : { causationId })
      }
    }

    const count = (outcome: string, n = 1) =>
      Metric.update(Metric.withAttributes(ActorMetrics.commands, { outcome }), n)

    /** Each command's decision, against the state the commands before it in the batch left. */
    const decideAll = (aggregate: AnyAggregate, cell: Cell, batch: ReadonlyArray<Entry>) => {
      const codecs = codecsOf(aggregate)
      let state = cell.state
      const decisions: Array<Decision> = []
      const newEvents: Array<NewEvent> = []
      for (const entry of batch) {
        const decision = aggregate.decide(entry.command, state)
        if (decision._tag === "Failure") {
          decisions.push({ _tag: "Rejected", error: decision.failure })
          continue
        }
        const events: ReadonlyArray<{ readonly _tag: string }> = decision.success
        const metadata = metadataOf(entry.context)
        events.forEach((event, i) => {
          const { _tag, ...data } = codecs.encodeEvent(event)
          newEvents.push({ eventId: eventIdOf(cell, entry.context, i), type: event._tag, data, metadata })
        })
        state = fold(aggregate, state, events)
        decisions.push({ _tag: "Decided", events, state, eventsUpTo: newEvents.length })
      }
      return { decisions, newEvents, state }
    }

    const settle = (entry: Entry, exit: Exit.Exit<CommandResult<unknown, unknown>, unknown>) =>
      Deferred.done(entry.done, exit)

    /**
     * Handles the commands waiting in a cell's mailbox together: one append for
     * all their events, so a hot aggregate pays one commit per batch, not per
     * command. Each command still gets its own result or error; a conflict makes
     * the whole batch catch up and decide again.
     */
    const processBatch = (aggregate: AnyAggregate, cell: Cell, batch: ReadonlyArray<Entry>): Effect.Effect<void> =>
      Effect.gen(function* () {
        let verified = !mayBeStale
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          const wasLoaded = cell.loaded
          const loaded = yield* Effect.exit(
            ensureLoaded(
              aggregate,
              cell,
              batch.every((entry) => entry.context.expectNew === true)
            )
          )
          if (Exit.isFailure(loaded)) {
            const failed = Exit.failCause(loaded.cause)
            return yield* Effect.forEach(batch, (entry) => settle(entry, failed), { discard: true })
          }
          const { decisions, newEvents, state } = decideAll(aggregate, cell, batch)
          const refused = decisions.some((d) => d._tag === "Rejected" || d.events.length === 0)
          // (A cell taken as new is checked the same way: its refusal may be the missing history's doing.)
          if (((!verified && wasLoaded) || cell.assumedNew) && refused) {
            // A refusal is final only against the stream's head: catch up once, decide again if it moved.
            verified = true
            const before = cell.version
            const caughtUp = yield* Effect.exit(catchUp(aggregate, cell))
            if (Exit.isFailure(caughtUp)) {
              cell.loaded = false
              const failed = Exit.failCause(caughtUp.cause)
              return yield* Effect.forEach(batch, (entry) => settle(entry, failed), { discard: true })
            }
            if (cell.version !== before) continue
          }
          const resultsAt = (version: number, firstPosition: number | undefined) =>
            Effect.forEach(
              batch,
              (entry, i) => {
                const d = decisions[i]!
                if (d._tag === "Rejected") return settle(entry, Exit.fail(d.error))
                const written = d.events.length > 0 && firstPosition !== undefined
                return settle(
                  entry,
                  Exit.succeed({
                    events: d.events,
                    version: version + d.eventsUpTo,
                    state: d.state,
                    position: written ? firstPosition + d.eventsUpTo - 1 : undefined
                  })
                )
              },
              { discard: true }
            )
          const outcomes = decisions.map((d) =>
            d._tag === "Rejected" ? "rejected" : d.events.length > 0 ? "applied" : "unchanged"
          )
          if (newEvents.length === 0) {
            yield* Effect.forEach(outcomes, (o) => count(o), { discard: true })
            return yield* resultsAt(cell.version, undefined)
          }
          const appended = yield* Effect.exit(store.append(cell.key, ExpectedVersion.exact(cell.version), newEvents))
          if (Exit.isSuccess(appended) && !appended.value.replayed) {
            const before = cell.version
            cell.state = state
            cell.version = appended.value.nextExpectedVersion
            cell.assumedNew = false
            yield* maybeSnapshot(aggregate, cell)
            yield* Effect.forEach(outcomes, (o) => count(o), { discard: true })
            return yield* resultsAt(before, appended.value.firstPosition)
          }
          const failure = Exit.isFailure(appended) ? Cause.findErrorOption(appended.cause) : Option.none()
          const tag = Option.isSome(failure) ? failure.value._tag : Exit.isSuccess(appended) ? "Replayed" : "Defect"
          if (tag === "WrongExpectedVersion") {
            // A writer that keeps appending would win every immediate retry:
            // wait a random, growing moment before catching up and trying again.
            yield* Metric.update(ActorMetrics.conflicts, 1)
            yield* Effect.sleep(Duration.millis(yield* Random.nextBetween(0, Math.min(50, 2 ** attempt))))
            yield* Effect.exit(catchUp(aggregate, cell))
            continue
          }
          if (tag === "Replayed" || tag === "DuplicateEventId") {
            // Some of these commands were applied before (a retry with the same
            // command id). Alone, a command is answered from the stream; in a
            // batch, each is retried alone so the others still apply.
            if (batch.length > 1) {
              return yield* Effect.forEach(batch, (entry) => processBatch(aggregate, cell, [entry]), { discard: true })
            }
            yield* Effect.exit(catchUp(aggregate, cell))
            yield* count("replayed")
            const position = Exit.isSuccess(appended) ? appended.value.lastPosition : undefined
            const d = decisions[0]!
            return yield* settle(
              batch[0]!,
              d._tag === "Rejected"
                ? Exit.fail(d.error)
                : Exit.succeed({ events: d.events, version: cell.version, state: cell.state, position })
            )
          }
          // Unknown outcome (the store failed): the cell cannot trust its version any more.
          cell.loaded = false
          const exit = Exit.isFailure(appended) ? Exit.failCause(appended.cause) : Exit.die(new Error("unreachable"))
          return yield* Effect.forEach(batch, (entry) => settle(entry, exit), { discard: true })
        }
        yield* count("conflict", batch.length)
        const conflict = Exit.fail(new ConcurrencyConflict({ streamId: cell.key, attempts: maxAttempts }))
        yield* Effect.forEach(batch, (entry) => settle(entry, conflict), { discard: true })
      })

    const withCell = <A, E>(key: string, use: (cell: Cell) => Effect.Effect<A, E>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const cell = acquire(key, now)
        return use(cell).pipe(Effect.ensuring(release(cell)))
      })

    /** Queues a command; whoever holds the cell's permit takes every waiting command as one batch. */
    const enqueue = (aggregate: AnyAggregate, cell: Cell, command: unknown, context: CommandContext) =>
      Effect.gen(function* () {
        const entry: Entry = {
          command,
          context,
          done: yield* Deferred.make<CommandResult<unknown, unknown>, unknown>()
        }
        cell.mailbox.push(entry)
        yield* Semaphore.withPermit(
          cell.permit,
          Effect.uninterruptible(
            Effect.gen(function* () {
              while (cell.mailbox.includes(entry)) {
                yield* processBatch(aggregate, cell, cell.mailbox.splice(0, maxBatch))
              }
            })
          )
        )
        return yield* Deferred.await(entry.done)
      })

    // Idle cells are dropped by a sweep, a few times per idle timeout.
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const idle = [...cells.values()].filter((c) => c.pending === 0 && now - c.lastUsed >= idleMillis)
        yield* Effect.forEach(idle, passivate, { discard: true })
      }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(Math.max(50, idleMillis / 4)))))
    )

    /**
     * Decides each part on its own cell and appends all events in one
     * transaction. The cells' permits are taken in key order, so two such
     * commands over the same instances cannot wait on each other.
     */
    const sendTogether = (
      parts: ReadonlyArray<{ aggregate: AnyAggregate; id: string; command: unknown; expectNew?: boolean }>,
      given: CommandContext = {}
    ) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const keyed = parts.map((p) => ({ ...p, key: streamId(p.aggregate, p.id) }))
        const context = yield* withKeyedCommandId(keyed.map((p) => p.key).join(","), given)
        if (new Set(keyed.map((p) => p.key)).size !== keyed.length) {
          return yield* Effect.die(new Error("sendTogether: each instance may appear once"))
        }
        const cellsOfParts = keyed.map((p) => acquire(p.key, now))
        const ordered = [...cellsOfParts].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        const run = Effect.gen(function* () {
          let verified = !mayBeStale
          for (let attempt = 1; attempt <= maxAttempts; attempt++) {
            for (const [i, p] of keyed.entries()) yield* ensureLoaded(p.aggregate, cellsOfParts[i]!, p.expectNew)
            // A refusal or a part that decides nothing is final only against the streams' heads (a part
            // without events is not in the append, so no expected version checks it): catch up once.
            const verify = Effect.gen(function* () {
              verified = true
              const before = cellsOfParts.map((cell) => cell.version)
              for (const [i, p] of keyed.entries()) yield* catchUp(p.aggregate, cellsOfParts[i]!)
              return cellsOfParts.some((cell, i) => cell.version !== before[i])
            })
            const decided = []
            let refused: unknown
            for (const [i, p] of keyed.entries()) {
              const cell = cellsOfParts[i]!
              const decision = p.aggregate.decide(p.command, cell.state)
              if (decision._tag === "Failure") {
                refused = decision.failure
                break
              }
              const events: ReadonlyArray<{ readonly _tag: string }> = decision.success
              const codecs = codecsOf(p.aggregate)
              const newEvents = events.map((event, k) => {
                const { _tag, ...data } = codecs.encodeEvent(event)
                return { eventId: eventIdOf(cell, context, k), type: event._tag, data, metadata: metadataOf(context) }
              })
              decided.push({ part: p, cell, events, newEvents, state: fold(p.aggregate, cell.state, events) })
            }
            const unverified = !verified || cellsOfParts.some((cell) => cell.assumedNew)
            if (unverified && (refused !== undefined || decided.some((d) => d.events.length === 0))) {
              if (yield* verify) continue
            }
            if (refused !== undefined) {
              yield* count("rejected", keyed.length)
              return yield* Effect.fail(refused)
            }
            const writes = decided.filter((d) => d.events.length > 0)
            if (writes.length === 0) {
              yield* count("unchanged", keyed.length)
              return decided.map((d) => ({
                events: d.events,
                version: d.cell.version,
                state: d.cell.state,
                position: undefined
              }))
            }
            const appended = yield* store
              .appendMulti(
                writes.map((d) => ({
                  streamId: d.cell.key,
                  expectedVersion: ExpectedVersion.exact(d.cell.version),
                  events: d.newEvents
                }))
              )
              .pipe(
                Effect.map(Option.some),
                Effect.catchTags({
                  WrongExpectedVersion: () => Effect.as(Metric.update(ActorMetrics.conflicts, 1), Option.none()),
                  InvalidAppend: (error) => Effect.die(error),
                  DuplicateEventId: () => Effect.succeed(Option.none())
                }),
                Effect.tapError(() =>
                  Effect.sync(() => {
                    for (const cell of cellsOfParts) cell.loaded = false
                  })
                )
              )
            if (Option.isNone(appended) || appended.value.some((r) => r.replayed)) {
              // Another writer won, or this command was applied before (same command id):
              // catch every cell up and decide again; a replay then decides nothing new.
              if (Option.isNone(appended)) {
                yield* Effect.sleep(Duration.millis(yield* Random.nextBetween(0, Math.min(50, 2 ** attempt))))
              }
              for (const [i, p] of keyed.entries()) yield* catchUp(p.aggregate, cellsOfParts[i]!)
              continue
            }
            const byStream = new Map(appended.value.map((r) => [r.streamId, r]))
            const results = []
            for (const d of decided) {
              const r = byStream.get(d.cell.key)
              if (r !== undefined) {
                d.cell.state = d.state
                d.cell.version = r.nextExpectedVersion
                d.cell.assumedNew = false
                yield* maybeSnapshot(d.part.aggregate, d.cell)
              }
              results.push({
                events: d.events,
                version: d.cell.version,
                state: d.cell.state,
                position: r?.lastPosition
              })
            }
            yield* count("applied", keyed.length)
            return results
          }
          yield* count("conflict", keyed.length)
          return yield* Effect.fail(
            new ConcurrencyConflict({ streamId: keyed.map((p) => p.key).join(","), attempts: maxAttempts })
          )
        })
        const locked = ordered.reduceRight<Effect.Effect<ReadonlyArray<CommandResult<unknown, unknown>>, unknown>>(
          (inner, cell) => Semaphore.withPermit(cell.permit, inner),
          Effect.uninterruptible(run)
        )
        const results = yield* locked.pipe(Effect.ensuring(Effect.forEach(cellsOfParts, release, { discard: true })))
        for (const result of results) yield* noteWrite(result.position)
        return results
      }).pipe((effect) =>
        Spans.traced(effect, "Actor.sendTogether", {
          attributes: () => ({
            "actor.commands": parts.map((p) => `${p.aggregate.type}.${tagOf(p.command)}`).join(" ")
          })
        })
      )

    // The cells hold every aggregate's state as `unknown`; the port's signature
    // gives each call back its aggregate's own types.
    const send = <C, E extends { readonly _tag: string }, S, Err>(
      aggregate: Aggregate<C, E, S, Err>,
      id: string,
      command: C,
      context: CommandContext = {}
    ) =>
      Spans.traced(
        Effect.tap(
          Effect.flatMap(withKeyedCommandId(streamId(aggregate, id), context), (context) =>
            withCell(streamId(aggregate, id), (cell) => enqueue(aggregate, cell, command, context))
          ),
          (result) => noteWrite(result.position)
        ),
        () => `Actor.${aggregate.type}.${tagOf(command)}`,
        { attributes: () => ({ "actor.id": id }) }
      ) as Effect.Effect<CommandResult<E, S>, Err | ActorError>

    // A resident actor's state is read without its permit: a command replaces state and version together,
    // synchronously, after its events committed, so a reader sees the last committed state, never a torn one,
    // and does not queue behind commands (or other readers). Only activation needs the permit.
    const state = <C, E extends { readonly _tag: string }, S, Err>(
      aggregate: Aggregate<C, E, S, Err>,
      id: string,
      options?: StateOptions<S>
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const key = streamId(aggregate, id)
        const resident = cells.get(key)
        if (
          resident?.loaded === true &&
          !resident.assumedNew &&
          (!mayBeStale || options?.acceptStale?.(resident.state as S) === true)
        ) {
          // Recency order: a read is a use.
          cells.delete(key)
          cells.set(key, resident)
          resident.lastUsed = now
          return Effect.succeed({ state: resident.state as S, version: resident.version })
        }
        return withCell(key, (cell) =>
          Semaphore.withPermit(
            cell.permit,
            Effect.map(
              Effect.andThen(
                ensureLoaded(aggregate, cell),
                // Loaded just now it is at the head already; resident, it may have missed others' appends.
                (mayBeStale && resident?.loaded === true) || cell.assumedNew ? catchUp(aggregate, cell) : Effect.void
              ),
              () => ({ state: cell.state as S, version: cell.version })
            )
          )
        )
      })

    const runtime = ActorRuntime.of({
      send,
      sendWithoutState: (aggregate, id, command, context) =>
        Effect.map(send(aggregate, id, command, context), outcomeOf),
      // The port's mapped types recover each part's own result and error types.
      sendTogether: sendTogether as ActorRuntime["Service"]["sendTogether"],
      state,
      residentCount: Effect.sync(() => cells.size)
    })
    const evict = (key: string) =>
      Effect.suspend(() => {
        const cell = cells.get(key)
        return cell === undefined || cell.pending > 0 ? Effect.void : passivate(cell)
      })
    const evictWhere = (drop: (key: string) => boolean) =>
      Effect.suspend(() =>
        Effect.forEach(
          [...cells.values()].filter((cell) => cell.pending === 0 && drop(cell.key)),
          passivate,
          { discard: true }
        )
      )
    return { runtime, evict, evictWhere } satisfies Local
  })

/** The in-process actor runtime over the event store and snapshot store in context. */
export const make = (options: Options = {}) => Effect.map(makeLocal(options), (local) => local.runtime)

/** The runtime as a layer. */
export const layer = (options: Options = {}): Layer.Layer<ActorRuntime, never, EventStore | SnapshotStore> =>
  Layer.effect(ActorRuntime, make(options))

/**
 * The settings the server gives it: `ACTOR_IDLE_TIMEOUT` (default 30
 * seconds: an order's actors — order, fulfilment, payment, shipment — are
 * busy for the seconds its saga takes, then idle for good, so under a steady
 * load the actors in memory are about the last half-minute's orders; accounts
 * and SKUs in use stay warm; bringing one back costs a snapshot and a short
 * read) and `ACTOR_MAX_RESIDENT` (default 50,000).
 */
export const config: Config.Config<Options> = Config.all({
  idleTimeout: Config.Duration("ACTOR_IDLE_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
  maxResident: Config.Int("ACTOR_MAX_RESIDENT").pipe(Config.withDefault(50_000))
})

/** The runtime configured by `config`. */
export const layerFromConfig = (
  overrides: Options = {}
): Layer.Layer<ActorRuntime, Config.ConfigError, EventStore | SnapshotStore> =>
  Layer.unwrap(Effect.map(config, (options) => layer({ ...options, ...overrides })))
