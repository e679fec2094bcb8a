/**
 * Subscriptions over any adapter that can read the global log in order and
 * signal appends: catch up in batches, then wait for the next append (or the
 * polling interval) and read again. Gap freedom comes from the log itself
 * (positions become visible in order), so reading `position > last seen` is
 * enough.
 */
import { type Duration, Effect, Option, Stream } from "effect"
import type { EventStoreError, RecordedEvent, SubscribeOptions } from "../EventStore.ts"
import type { HeadSignal } from "./HeadSignal.ts"

export interface LogReader {
  readonly readAll: (options: {
    readonly after: number
    readonly limit: number
  }) => Effect.Effect<ReadonlyArray<RecordedEvent>, EventStoreError>
  readonly loadCheckpoint: (name: string) => Effect.Effect<number, EventStoreError>
  readonly saveCheckpoint: (name: string, position: number) => Effect.Effect<void, EventStoreError>
  readonly signal: HeadSignal
  readonly pollInterval: Duration.Input
}

const defaultBatchSize = 500

const startOf = (reader: LogReader, options: SubscribeOptions) => {
  const from = options.from ?? "checkpoint"
  return from === "checkpoint" ? reader.loadCheckpoint(options.name) : Effect.succeed(from.after)
}

/**
 * The page of the log after `after`, untraced: a subscription polls, and what
 * it does with a batch is what traces follow.
 */
const readPage = (reader: LogReader, after: number, limit: number) =>
  Effect.withTracerEnabled(reader.readAll({ after, limit }), false)

/** The next batch after `after`, waiting for an append when there is none yet. */
const nextBatch = (reader: LogReader, after: number, limit: number) =>
  Effect.flatMap(readPage(reader, after, limit), (batch) =>
    batch.length > 0 ? Effect.succeed(batch) : Effect.as(reader.signal.awaitBeyond(after, reader.pollInterval), batch)
  )

export const subscribe = (
  reader: LogReader,
  options: SubscribeOptions
): Stream.Stream<RecordedEvent, EventStoreError> => {
  const limit = options.batchSize ?? defaultBatchSize
  return Stream.unwrap(
    Effect.map(startOf(reader, options), (start) =>
      Stream.paginate(start, (after: number) =>
        Effect.map(nextBatch(reader, after, limit), (batch) => {
          const last = batch.at(-1)
          return [batch, Option.some(last === undefined ? after : last.position)] as const
        })
      )
    )
  )
}

/** A caught-up consumer with skipped events not yet saved waits this long for more before it saves its checkpoint. */
const idleCheckpointAfter = "10 millis"
/** A consumer skipping events saves its checkpoint at least this often (in positions). */
const maxUnsavedDistance = 10_000

/**
 * Handles batches and moves the checkpoint with them. `atomically` wraps the
 * handler and the checkpoint write so that both happen or neither does.
 * With `options.relevant`, the handler sees only those events, and the
 * checkpoint passes the others without a write each time (`SubscribeOptions`).
 */
export const consume = <E, R, E2>(
  reader: LogReader,
  options: SubscribeOptions,
  handle: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void, E, R>,
  atomically: <A, E1, R1>(effect: Effect.Effect<A, E1, R1>) => Effect.Effect<A, E1 | E2, R1>
): Effect.Effect<never, E | E2 | EventStoreError, R> => {
  const limit = options.batchSize ?? defaultBatchSize
  const relevant = options.relevant
  const save = (position: number) => reader.saveCheckpoint(options.name, position)
  // `saved`: the checkpoint as stored; `after` may be ahead of it by events nobody had to act on.
  const loop = (after: number, saved: number): Effect.Effect<never, E | E2 | EventStoreError, R> =>
    Effect.flatMap(readPage(reader, after, limit), (batch) => {
      const last = batch.at(-1)
      if (last === undefined) {
        if (saved >= after) {
          return Effect.andThen(reader.signal.awaitBeyond(after, reader.pollInterval), loop(after, saved))
        }
        // Caught up with skipped events unsaved: if nothing comes for a moment, save where this stands.
        return Effect.andThen(
          reader.signal.awaitBeyond(after, idleCheckpointAfter),
          Effect.suspend(() =>
            reader.signal.head() > after ? loop(after, saved) : Effect.andThen(save(after), loop(after, after))
          )
        )
      }
      const events = relevant === undefined ? batch : batch.filter(relevant)
      if (events.length > 0) {
        return atomically(Effect.andThen(handle(events), save(last.position))).pipe(
          Effect.flatMap(() => loop(last.position, last.position))
        )
      }
      if (last.position - saved >= maxUnsavedDistance) {
        return Effect.andThen(save(last.position), loop(last.position, last.position))
      }
      return loop(last.position, saved)
    })
  return Effect.flatMap(startOf(reader, options), (start) => loop(start, start))
}

/** `consume` without a transaction around the handler and the checkpoint (`EventStore.follow`). */
export const follow = <E, R>(
  reader: LogReader,
  options: SubscribeOptions,
  handle: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void, E, R>
): Effect.Effect<never, E | EventStoreError, R> => consume(reader, options, handle, (effect) => effect)
