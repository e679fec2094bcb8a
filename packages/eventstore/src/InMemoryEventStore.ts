/**
 * The in-memory adapter of the event store and the snapshot store, for pure
 * tests and tools. It keeps the PostgreSQL adapter's contract exactly (the
 * same contract suite runs against both); it keeps nothing across restarts.
 */
import { Context, type Duration, Effect, Layer, Option } from "effect"
import {
  type AppendResult,
  DuplicateEventId,
  EventStore,
  InvalidAppend,
  type RecordedEvent,
  type StreamAppend,
  streamTypeOf,
  WrongExpectedVersion
} from "./EventStore.ts"
import * as EventStoreMetrics from "./EventStoreMetrics.ts"
import * as ExpectedVersion from "./ExpectedVersion.ts"
import * as HeadSignal from "./internal/HeadSignal.ts"
import * as Subscription from "./internal/subscription.ts"
import { validateAppends } from "./internal/validate.ts"
import { type Snapshot, SnapshotStore } from "./SnapshotStore.ts"

export interface Options {
  /** How often a caught-up subscription re-reads without a signal (default 1 second). */
  readonly pollInterval?: Duration.Input
}

// Events are copied through JSON on the way in, as the database would, so a
// caller mutating its objects afterwards cannot change history.
const copy = <A>(value: A): A => {
  const json = JSON.stringify(value)
  if (json === undefined) throw new Error("not representable as JSON")
  return JSON.parse(json) as A
}

const copyEvents = (appends: ReadonlyArray<StreamAppend>) =>
  Effect.try({
    try: () =>
      appends.map((a) => ({
        ...a,
        events: a.events.map((e) => ({ ...e, data: copy(e.data), metadata: copy(e.metadata ?? {}) }))
      })),
    catch: (error) => new InvalidAppend({ reason: `events are not JSON: ${String(error)}` })
  })

export const make = (options: Options = {}) =>
  Effect.sync(() => {
    const log: Array<RecordedEvent> = []
    const streams = new Map<string, Array<RecordedEvent>>()
    const streamOfEvent = new Map<string, string>()
    const checkpoints = new Map<string, number>()
    const snapshots = new Map<string, Snapshot>()
    const signal = HeadSignal.make()

    const judge = (a: StreamAppend): AppendResult | WrongExpectedVersion | DuplicateEventId | "write" => {
      const stream = streams.get(a.streamId) ?? []
      const owners = a.events.map((e) => streamOfEvent.get(e.eventId.toLowerCase()))
      const same = owners.filter((s) => s === a.streamId).length
      if (owners.some((s) => s !== undefined && s !== a.streamId) || (same > 0 && same < owners.length)) {
        return new DuplicateEventId({ streamId: a.streamId })
      }
      if (same === owners.length) {
        const ids = new Set(a.events.map((e) => e.eventId.toLowerCase()))
        const mine = stream.filter((e) => ids.has(e.eventId))
        return {
          streamId: a.streamId,
          nextExpectedVersion: Math.max(...mine.map((e) => e.version)),
          firstPosition: Math.min(...mine.map((e) => e.position)),
          lastPosition: Math.max(...mine.map((e) => e.position)),
          replayed: true
        }
      }
      if (!ExpectedVersion.matches(a.expectedVersion, stream.length)) {
        return new WrongExpectedVersion({
          streamId: a.streamId,
          expected: ExpectedVersion.format(a.expectedVersion),
          actual: stream.length
        })
      }
      return "write"
    }

    const appendMulti = (input: ReadonlyArray<StreamAppend>) =>
      Effect.flatMap(Effect.andThen(validateAppends(input), copyEvents(input)), (appends) =>
        Effect.suspend(() => {
          const verdicts = appends.map(judge)
          for (const v of verdicts) {
            if (v instanceof WrongExpectedVersion || v instanceof DuplicateEventId) return Effect.fail(v)
          }
          const recordedAt = new Date()
          const results = appends.map((a, i): AppendResult => {
            const verdict = verdicts[i]!
            if (verdict !== "write") return verdict as AppendResult
            const stream = streams.get(a.streamId) ?? []
            streams.set(a.streamId, stream)
            const firstPosition = log.length + 1
            for (const e of a.events) {
              const recorded: RecordedEvent = {
                position: log.length + 1,
                streamId: a.streamId,
                streamType: streamTypeOf(a.streamId),
                version: stream.length + 1,
                eventId: e.eventId.toLowerCase(),
                type: e.type,
                data: e.data,
                metadata: e.metadata,
                recordedAt
              }
              log.push(recorded)
              stream.push(recorded)
              streamOfEvent.set(recorded.eventId, a.streamId)
            }
            return {
              streamId: a.streamId,
              nextExpectedVersion: stream.length,
              firstPosition,
              lastPosition: log.length,
              replayed: false
            }
          })
          return signal
            .publish(log.length)
            .pipe(Effect.andThen(EventStoreMetrics.recordAppend(results)), Effect.as(results))
        })
      )

    const readAll = ({ after, limit }: { readonly after: number; readonly limit: number }) =>
      Effect.sync(() => log.slice(Math.max(0, after), Math.max(0, after) + limit))
    const loadCheckpoint = (name: string) => Effect.sync(() => checkpoints.get(name) ?? 0)
    const saveCheckpoint = (name: string, position: number) => Effect.sync(() => void checkpoints.set(name, position))
    const reader: Subscription.LogReader = {
      readAll,
      loadCheckpoint,
      saveCheckpoint,
      signal,
      pollInterval: options.pollInterval ?? "1 second"
    }

    const eventStore = EventStore.of({
      append: (streamId, expectedVersion, events) =>
        Effect.map(appendMulti([{ streamId, expectedVersion, events }]), (results) => results[0]!),
      appendMulti,
      readStream: (streamId, { fromVersion = 1, maxCount } = {}) =>
        Effect.sync(() => {
          const from = (streams.get(streamId) ?? []).slice(Math.max(0, fromVersion - 1))
          return maxCount === undefined ? from : from.slice(0, maxCount)
        }),
      streamVersion: (streamId) => Effect.sync(() => streams.get(streamId)?.length ?? 0),
      readAll,
      headPosition: Effect.sync(() => log.length),
      subscribe: (subscribeOptions) => Subscription.subscribe(reader, subscribeOptions),
      loadCheckpoint,
      saveCheckpoint,
      // The handler and the checkpoint run without an interruption point between them.
      consume: (subscribeOptions, handle) =>
        Subscription.consume(reader, subscribeOptions, handle, Effect.uninterruptible),
      follow: (subscribeOptions, handle) => Subscription.follow(reader, subscribeOptions, handle),
      ping: Effect.void
    })

    const snapshotStore = SnapshotStore.of({
      save: (snapshot) =>
        Effect.sync(() => {
          const current = snapshots.get(snapshot.streamId)
          if (
            current === undefined ||
            current.version < snapshot.version ||
            current.schemaVersion !== snapshot.schemaVersion
          ) {
            snapshots.set(snapshot.streamId, { ...snapshot, data: copy(snapshot.data) })
          }
        }),
      load: (streamId) => Effect.sync(() => Option.fromNullishOr(snapshots.get(streamId)))
    })

    return { eventStore, snapshotStore }
  })

/** A fresh, empty in-memory event store and snapshot store. */
export const layer = (options: Options = {}): Layer.Layer<EventStore | SnapshotStore> =>
  Layer.effectContext(
    Effect.map(Effect.andThen(EventStoreMetrics.register, make(options)), ({ eventStore, snapshotStore }) =>
      Context.make(EventStore, eventStore).pipe(Context.add(SnapshotStore, snapshotStore))
    )
  )
