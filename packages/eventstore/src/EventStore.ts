/**
 * The event store port: append-only streams with optimistic concurrency, one
 * global order over all streams, and subscriptions that never skip an event.
 *
 * Versions are 1-based: a stream's version is the number of events in it, so
 * an empty (absent) stream has version 0. Positions are 1-based, dense and
 * increasing in commit order (ADR 0002).
 */
import { Context, type Effect, Schema, type Stream } from "effect"
import type { ExpectedVersion } from "./ExpectedVersion.ts"

/** Correlation and causation ids travel with every event; anything else is free-form. */
export interface EventMetadata {
  readonly correlationId?: string
  readonly causationId?: string
  readonly [key: string]: unknown
}

/** An event to append. `eventId` (a UUID) makes a retried append a no-op. */
export interface NewEvent {
  readonly eventId: string
  readonly type: string
  readonly data: unknown
  readonly metadata?: EventMetadata
}

/** An event as stored, with its place in its stream and in the global log. */
export interface RecordedEvent {
  readonly position: number
  readonly streamId: string
  readonly streamType: string
  readonly version: number
  readonly eventId: string
  readonly type: string
  readonly data: unknown
  readonly metadata: EventMetadata
  readonly recordedAt: Date
}

/** One stream's part of an append. */
export interface StreamAppend {
  readonly streamId: string
  readonly expectedVersion: ExpectedVersion
  readonly events: ReadonlyArray<NewEvent>
}

/** The outcome of one stream's part of an append. */
export interface AppendResult {
  readonly streamId: string
  /** The stream's version after the append: pass it as the next expected version. */
  readonly nextExpectedVersion: number
  readonly firstPosition: number
  readonly lastPosition: number
  /** True when every event id was already in the stream: nothing was written. */
  readonly replayed: boolean
}

/** The stream was not at the expected version; nothing was written. */
export class WrongExpectedVersion extends Schema.TaggedError<WrongExpectedVersion>()("WrongExpectedVersion", {
  streamId: Schema.String,
  expected: Schema.String,
  actual: Schema.Number
}) {
  override get message() {
    return `stream ${this.streamId}: expected version ${this.expected}, actual ${this.actual}`
  }
}

/** Some event ids of the append exist already, but not as this exact append to this stream. */
export class DuplicateEventId extends Schema.TaggedError<DuplicateEventId>()("DuplicateEventId", {
  streamId: Schema.String
}) {}

/** The append itself is malformed (empty, a stream twice, an id that is not a UUID). */
export class InvalidAppend extends Schema.TaggedError<InvalidAppend>()("InvalidAppend", {
  reason: Schema.String
}) {}

/** The store could not be reached or failed; the outcome of an append that fails this way is unknown. */
export class EventStoreError extends Schema.TaggedError<EventStoreError>()("EventStoreError", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message() {
    return `event store ${this.operation} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

export type AppendError = WrongExpectedVersion | DuplicateEventId | InvalidAppend | EventStoreError

/** Where a subscription starts: after its stored checkpoint, or after an explicit position. */
export type SubscriptionStart = "checkpoint" | { readonly after: number }

export interface SubscribeOptions {
  readonly name: string
  readonly from?: SubscriptionStart
  /** Events read per query; default 500. */
  readonly batchSize?: number
  /**
   * `consume` and `follow` only: the events the handler acts on. A batch is
   * handed over without the others, and a batch with none of them is not
   * handed over at all; the checkpoint then moves past such events without a
   * write each time: when the subscription has caught up and nothing new came
   * for a moment (10 ms), or every 10,000 positions. Default: every
   * event.
   */
  readonly relevant?: (event: RecordedEvent) => boolean
}

/** The event store. */
export class EventStore extends Context.Service<
  EventStore,
  {
    /** Appends events to one stream, atomically, if it is at the expected version. */
    readonly append: (
      streamId: string,
      expectedVersion: ExpectedVersion,
      events: ReadonlyArray<NewEvent>
    ) => Effect.Effect<AppendResult, AppendError>
    /** Appends to several streams in one transaction: all of them are written, or none. */
    readonly appendMulti: (
      appends: ReadonlyArray<StreamAppend>
    ) => Effect.Effect<ReadonlyArray<AppendResult>, AppendError>
    /** A stream's events from `fromVersion` (inclusive, default 1), in version order. */
    readonly readStream: (
      streamId: string,
      options?: { readonly fromVersion?: number; readonly maxCount?: number }
    ) => Effect.Effect<ReadonlyArray<RecordedEvent>, EventStoreError>
    /** A stream's current version (0 when it does not exist). */
    readonly streamVersion: (streamId: string) => Effect.Effect<number, EventStoreError>
    /** Events after `after` (exclusive) in global position order, at most `limit`. */
    readonly readAll: (options: {
      readonly after: number
      readonly limit: number
    }) => Effect.Effect<ReadonlyArray<RecordedEvent>, EventStoreError>
    /** The position of the last committed event (0 when the log is empty). */
    readonly headPosition: Effect.Effect<number, EventStoreError>
    /** Every event after the start, in order, then each new one as it commits; never ends. */
    readonly subscribe: (options: SubscribeOptions) => Stream.Stream<RecordedEvent, EventStoreError>
    /** The stored checkpoint of a subscription (0 when it has none). */
    readonly loadCheckpoint: (name: string) => Effect.Effect<number, EventStoreError>
    /** Stores a subscription's checkpoint. */
    readonly saveCheckpoint: (name: string, position: number) => Effect.Effect<void, EventStoreError>
    /**
     * Runs `handle` on each batch of events after the subscription's checkpoint,
     * storing the checkpoint with the handler's effects in one transaction
     * (PostgreSQL adapter: the handler's SQL joins it), so that after a crash
     * every event has been handled exactly once. Never ends.
     */
    readonly consume: <E, R>(
      options: SubscribeOptions,
      handle: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void, E, R>
    ) => Effect.Effect<never, E | EventStoreError, R>
    /**
     * `consume` without the transaction: `handle` runs, then the checkpoint is
     * saved. For handlers that are idempotent (after a crash the batch since
     * the checkpoint is handled again) and write elsewhere. Never ends.
     */
    readonly follow: <E, R>(
      options: SubscribeOptions,
      handle: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void, E, R>
    ) => Effect.Effect<never, E | EventStoreError, R>
    /** Succeeds when the store answers. */
    readonly ping: Effect.Effect<void, EventStoreError>
  }
>()("@agora/eventstore/EventStore") {}

/** The stream type is the stream id up to its first `-` (`order-<uuid>` → `order`). */
export const streamTypeOf = (streamId: string): string => {
  const dash = streamId.indexOf("-")
  return dash > 0 ? streamId.slice(0, dash) : streamId
}
