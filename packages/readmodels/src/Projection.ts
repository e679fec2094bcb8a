/**
 * What a projection is: a pure function from one event (and the documents it
 * touches) to writes into the read-model store. The runner
 * (`ProjectionRunner.ts`) loads the documents a batch needs, applies each event
 * through a `ProjectionContext` that records the writes, and commits them with
 * the checkpoint in one atomic step.
 *
 * Documents are folded from one stream each and carry that stream's version.
 * An event applies to a document only when the document is exactly one
 * version behind it (`applyToDoc`): a document that is missing (expired from
 * the cache, or never held) stays missing until a reader repopulates it from
 * the event store, and a `Drop` marker makes sure that reader's fold includes
 * the event (a fill of an older fold, racing the projection, is refused); one
 * already at or past the event is left alone (idempotent by version); one
 * further behind is dropped, since it can no longer be made current. So a
 * document, when present, is its stream's state at its version, and never
 * older than an event the projection has passed.
 */
import type { RecordedEvent } from "@agora/eventstore"

/** A document in a batch's working set: its version and its decoded value. */
export interface WorkingDoc<V> {
  readonly version: number
  readonly value: V
}

/** How a document's value is stored: JSON text. `decode` may throw on text this code cannot read. */
export interface DocCodec<V> {
  readonly encode: (value: V) => string
  readonly decode: (json: string) => V
}

/**
 * What `apply` may read and write; writes become part of the batch's commit.
 * Documents are decoded once per batch (or once per rebuild) and encoded once
 * when the batch commits, however many events touch them.
 */
export interface ProjectionContext {
  /** The document as of the previous events of this batch (or as loaded before it). */
  readonly doc: <V>(key: string, codec: DocCodec<V>) => WorkingDoc<V> | undefined
  readonly put: <V>(key: string, doc: WorkingDoc<V>, codec: DocCodec<V>, ttlSeconds?: number) => void
  readonly drop: (key: string, belowVersion: number) => void
  readonly indexAdd: (key: string, score: number, member: string) => void
  readonly indexRemove: (key: string, member: string) => void
}

/** The result of applying an event: nothing to report, or the reason it cannot be applied (it is parked). */
export type Applied = undefined | { readonly poison: string }

export interface Projection {
  /** The projection's name: its checkpoint, generations and metrics are under it. */
  readonly name: string
  /** A cheap test on the envelope: events it is false for are skipped without decoding. */
  readonly handles: (event: RecordedEvent) => boolean
  /** The documents `apply` reads for this event (loaded before the batch is applied). */
  readonly docKeys: (event: RecordedEvent) => ReadonlyArray<string>
  /** Applies one event; pure, synchronous. An undecodable event is reported as poison, not thrown. */
  readonly apply: (event: RecordedEvent, context: ProjectionContext) => Applied
}

/**
 * Applies a stream event to the document folded from that stream: creates it
 * from the stream's first event (`create`), evolves it when it is exactly one
 * version behind (`evolve`), leaves it when it is missing or already there,
 * drops it when it is further behind.
 */
export const applyToDoc = <V>(
  context: ProjectionContext,
  key: string,
  event: RecordedEvent,
  codec: DocCodec<V>,
  step: {
    readonly create: () => V | undefined
    readonly evolve: (value: V) => V
    readonly ttlSeconds?: number | undefined
  }
): void => {
  const current = context.doc(key, codec)
  if (current === undefined) {
    // Not held (expired, or never read): it stays missing, and a reader's fill of an older fold is refused.
    if (event.version !== 1) {
      context.drop(key, event.version)
      return
    }
    const value = step.create()
    if (value !== undefined) context.put(key, { version: 1, value }, codec, step.ttlSeconds)
    return
  }
  if (current.version >= event.version) return
  if (current.version < event.version - 1) {
    context.drop(key, event.version)
    return
  }
  context.put(key, { version: event.version, value: step.evolve(current.value) }, codec, step.ttlSeconds)
}
