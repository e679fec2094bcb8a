/**
 * The snapshot port: the latest snapshot of a stream with the version it was
 * taken at, so an actor can activate from it plus the events after it. A
 * snapshot carries the schema version of its state so that a changed decider
 * ignores snapshots it can no longer read.
 */
import { Context, type Effect, type Option } from "effect"
import type { EventStoreError } from "./EventStore.ts"

export interface Snapshot {
  readonly streamId: string
  readonly version: number
  readonly schemaVersion: number
  readonly data: unknown
}

export class SnapshotStore extends Context.Service<
  SnapshotStore,
  {
    /** Stores a snapshot unless a newer one is already stored. */
    readonly save: (snapshot: Snapshot) => Effect.Effect<void, EventStoreError>
    /** The latest snapshot of a stream, if any. */
    readonly load: (streamId: string) => Effect.Effect<Option.Option<Snapshot>, EventStoreError>
  }
>()("@agora/eventstore/SnapshotStore") {}
