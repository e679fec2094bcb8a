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
 * The next batch after `after`, waiting for an append when there is none yet.
 * The reads are untraced: a subscription polls, and what it does with a batch
 * is what traces follow.
 */
const nextBatch = (reader: LogReader, after: number, limit: number) =>
  Effect.flatMap(Effect.withTracerEnabled(reader.readAll({ after, limit }), false), (batch) =>
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

/**
 * Handles batches and moves the checkpoint with them. `atomically` wraps the
 * handler and the checkpoint write so that both happen or neither does.
 */
export const consume = <E, R, E2>(
  reader: LogReader,
  options: SubscribeOptions,
  handle: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void, E, R>,
  atomically: <A, E1, R1>(effect: Effect.Effect<A, E1, R1>) => Effect.Effect<A, E1 | E2, R1>
): Effect.Effect<never, E | E2 | EventStoreError, R> => {
  const limit = options.batchSize ?? defaultBatchSize
  const loop = (after: number): Effect.Effect<never, E | E2 | EventStoreError, R> =>
    Effect.flatMap(nextBatch(reader, after, limit), (batch) => {
      const last = batch.at(-1)
      if (last === undefined) return loop(after)
      return atomically(Effect.andThen(handle(batch), reader.saveCheckpoint(options.name, last.position))).pipe(
        Effect.flatMap(() => loop(last.position))
      )
    })
  return Effect.flatMap(startOf(reader, options), loop)
}
