/**
 * The read-model store port: where projections put what the API reads.
 *
 * It holds, per projection, one or more **generations** (blue/green: a rebuild
 * fills a fresh generation while the active one keeps serving, then the
 * projection's active pointer is switched atomically). A generation holds:
 *
 * - **documents**: JSON text under a key, each with the version of the stream
 *   it was folded from and an optional time to live. A document is only ever
 *   replaced by a newer version (`Put` and `fill` are guarded), so a projection
 *   and a reader repopulating a missing document from the event store can race
 *   without either putting back an older state.
 * - **indexes**: sorted sets of members with numeric scores (a user's orders by
 *   position, an account's ledger by version, the catalog by SKU). Paging by
 *   score uses exclusive bounds, so scores must be unique within an index
 *   (positions and versions are); paging by member needs one shared score.
 * - a **checkpoint**: the global position of the last event applied. `commit`
 *   moves it together with a batch of writes, atomically (one Lua script in
 *   Redis), and only from the position the caller expects: a crash can neither
 *   apply a batch twice nor skip one, and two runners on one generation cannot
 *   both advance it.
 * - **partition checkpoints**, when a projection runs split by stream into
 *   `of` partitions (each applies the events of its streams, on whichever
 *   process holds its lease): a partitioned commit moves its partition's own
 *   checkpoint (from the position that partition expects), and the
 *   generation's checkpoint follows the lowest of the split's partitions (one
 *   that has not committed yet counts as the generation's checkpoint), never
 *   moving back. So the generation's checkpoint still says "every event up to
 *   here is applied", whatever the split, and a partition with no checkpoint of
 *   its own (a new split, or a rebuilt generation) starts from it.
 *
 * Readers name the projection and get its active generation; writers (the
 * runner, a rebuild) name the generation explicitly.
 */
import { Context, type Effect, Schema, type Stream } from "effect"

/** A document as stored: the stream version it reflects, and its JSON text. */
export interface StoredDoc {
  readonly version: number
  readonly json: string
}

/** One member of an index with its score. */
export interface IndexEntry {
  readonly member: string
  readonly score: number
}

/** One write of a committed batch. Keys are the projection's own (the store adds its namespace). */
export type Write =
  /** Stores the document unless the stored one has a version ≥ `version`; (re)sets its TTL when written. */
  | {
      readonly _tag: "Put"
      readonly key: string
      readonly version: number
      readonly json: string
      /** Omitted: kept until overwritten or dropped. */
      readonly ttlSeconds?: number | undefined
    }
  /**
   * The document can no longer be kept current: one stored with a version <
   * `belowVersion` is deleted, and (whether there was one or not) a marker
   * stays for an hour that refuses any later `Put` or `fill` below
   * `belowVersion` — so a reader that folded an older state cannot put it
   * back after the projection moved past it. Reads see no document.
   */
  | { readonly _tag: "Drop"; readonly key: string; readonly belowVersion: number }
  /** Adds (or re-scores) a member of a sorted index. */
  | { readonly _tag: "IndexAdd"; readonly key: string; readonly score: number; readonly member: string }
  /** Removes a member of a sorted index. */
  | { readonly _tag: "IndexRemove"; readonly key: string; readonly member: string }

/** Which generation an operation reads: the projection's active one, or a named one. */
export interface Target {
  readonly projection: string
  /** Omitted: the projection's active generation. */
  readonly generation?: number | undefined
}

/** A generation named explicitly, as writers use it. */
export interface Generation {
  readonly projection: string
  readonly generation: number
}

/** Everything a generation holds, for comparing two of them. */
export type Entry =
  | { readonly _tag: "Doc"; readonly key: string; readonly doc: StoredDoc }
  | { readonly _tag: "Index"; readonly key: string; readonly entries: ReadonlyArray<IndexEntry> }

/** The store could not be reached or failed. Readers fall back to the event store; runners retry. */
export class ReadModelError extends Schema.TaggedError<ReadModelError>()("ReadModelError", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message() {
    return `read-model store ${this.operation} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/**
 * A commit was refused and nothing was written: the generation's checkpoint was
 * not where the committer expected it (another runner moved it), or the commit
 * required the generation to be active and it no longer is (a rebuild switched).
 */
export class StaleCommit extends Schema.TaggedError<StaleCommit>()("StaleCommit", {
  projection: Schema.String,
  generation: Schema.Number,
  reason: Schema.Literals(["checkpoint_moved", "not_active"]),
  /** The checkpoint found (for `checkpoint_moved`). */
  found: Schema.Number
}) {}

/** One partition of a projection split by stream: `index` of `of` (2 to 256 partitions). */
export interface Partition {
  readonly index: number
  readonly of: number
}

export interface CommitOptions {
  /**
   * The checkpoint the batch starts from; the commit is refused if the stored one differs (the partition's own,
   * 0 while it has none, for a partitioned commit).
   */
  readonly expectedCheckpoint: number
  /** The checkpoint after the batch (the position of its last event). */
  readonly checkpoint: number
  readonly writes: ReadonlyArray<Write>
  /** Refuse the commit unless the generation is the projection's active one (the live runner: true; a rebuild: false). */
  readonly requireActive: boolean
  /** Commits one partition's progress instead of the whole projection's (see the module's comment). */
  readonly partition?: Partition | undefined
}

export interface IndexRangeOptions {
  /** Highest score first (`desc`) or lowest first (`asc`). */
  readonly order: "asc" | "desc"
  /** Only entries with a score strictly below this (for `desc` paging). */
  readonly below?: number | undefined
  /** Only entries with a score strictly above this (for `asc` paging). */
  readonly above?: number | undefined
  readonly limit: number
}

export class ReadModelStore extends Context.Service<
  ReadModelStore,
  {
    /** The projection's active generation; the first call for a projection makes generation 1 active. */
    readonly activeGeneration: (projection: string) => Effect.Effect<number, ReadModelError>
    /** The generation's checkpoint (0 when nothing was committed to it). */
    readonly checkpoint: (generation: Generation) => Effect.Effect<number, ReadModelError>
    /** A partition's own checkpoint in the generation (0 while it has committed nothing). */
    readonly partitionCheckpoint: (
      generation: Generation,
      partition: Partition
    ) => Effect.Effect<number, ReadModelError>
    /** Applies `writes` and moves the checkpoint, atomically, or refuses and writes nothing. */
    readonly commit: (
      generation: Generation,
      options: CommitOptions
    ) => Effect.Effect<void, StaleCommit | ReadModelError>
    /** Documents by key, in the order asked; `undefined` where there is none (or it expired). */
    readonly getDocs: (
      target: Target,
      keys: ReadonlyArray<string>
    ) => Effect.Effect<ReadonlyArray<StoredDoc | undefined>, ReadModelError>
    /**
     * Cache-aside fill: stores a document a reader folded from the event store,
     * unless the stored one has a version ≥ `version`. True when it was written.
     */
    readonly fill: (
      target: Target,
      key: string,
      doc: StoredDoc,
      ttlSeconds: number | undefined
    ) => Effect.Effect<boolean, ReadModelError>
    /** Entries of a sorted index by score (ties in member order). */
    readonly indexRange: (
      target: Target,
      key: string,
      options: IndexRangeOptions
    ) => Effect.Effect<ReadonlyArray<IndexEntry>, ReadModelError>
    /** Members of an index whose members all share one score, in bytewise member order, after `after` (exclusive). */
    readonly indexRangeByMember: (
      target: Target,
      key: string,
      options: { readonly after?: string | undefined; readonly limit: number }
    ) => Effect.Effect<ReadonlyArray<string>, ReadModelError>
    /** A new, empty, inactive generation of the projection (for a rebuild). */
    readonly newGeneration: (projection: string) => Effect.Effect<Generation, ReadModelError>
    /** Makes `to` active if `from` still is; false (and nothing changed) otherwise. */
    readonly switchActive: (projection: string, from: number, to: number) => Effect.Effect<boolean, ReadModelError>
    /** Deletes everything the generation holds (it must not be active); the number of keys deleted. */
    readonly dropGeneration: (generation: Generation) => Effect.Effect<number, ReadModelError>
    /** The generations of a projection that hold anything or are active, ascending. */
    readonly generations: (projection: string) => Effect.Effect<ReadonlyArray<number>, ReadModelError>
    /** Every document and index of a generation (not the checkpoint), in no particular order. */
    readonly scan: (generation: Generation) => Stream.Stream<Entry, ReadModelError>
    /** Succeeds when the store answers. */
    readonly ping: Effect.Effect<void, ReadModelError>
  }
>()("@agora/readmodels/ReadModelStore") {}
