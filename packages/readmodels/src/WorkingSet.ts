/**
 * The documents a projection runner holds between the store and `apply`:
 * each loaded (or known missing) once, decoded at most once, changed by any
 * number of events, and encoded once when the batch is flushed into writes.
 *
 * The live runner keeps it across batches (bounded) as a cache of the
 * documents it holds: that is safe because every write is version-guarded and
 * the runner's copy is its stream's true state at its version — if a reader
 * filled a newer version meanwhile, the runner's older puts are refused and its
 * next event applies to its own copy, which is the same state. What it must not
 * keep is "missing": a reader may fill, or a re-feed restore, the document at
 * any time (`forgetMissing`). A failed commit throws the working set away.
 */
import type { DocCodec, ProjectionContext, WorkingDoc } from "./Projection.ts"
import type { StoredDoc, Write } from "./ReadModelStore.ts"

interface Slot {
  version: number
  json: string | undefined
  value: unknown
  decoded: boolean
  codec: DocCodec<unknown> | undefined
}

interface Dirty {
  readonly ttlSeconds: number | undefined
}

export class WorkingSet {
  /** `null`: known to be missing from the store. */
  private readonly slots = new Map<string, Slot | null>()
  /** The keys whose slot is `null`, so that forgetting them does not scan every slot. */
  private readonly missingKeys = new Set<string>()
  private readonly dirty = new Map<string, Dirty>()
  private readonly dropped = new Map<string, number>()
  private indexWrites: Array<Write> = []

  private readonly capacity: number

  constructor(capacity = 10_000) {
    this.capacity = capacity
  }

  get size(): number {
    return this.slots.size
  }

  /** Keys among these that the set does not hold yet (to load from the store). */
  missing(keys: Iterable<string>): Array<string> {
    const out: Array<string> = []
    for (const key of keys) if (!this.slots.has(key)) out.push(key)
    return out
  }

  /** Records what the store holds for `key`. */
  load(key: string, doc: StoredDoc | undefined): void {
    if (doc === undefined) this.missingKeys.add(key)
    else this.missingKeys.delete(key)
    this.slots.set(
      key,
      doc === undefined
        ? null
        : { version: doc.version, json: doc.json, value: undefined, decoded: false, codec: undefined }
    )
  }

  readonly context: ProjectionContext = {
    doc: <V>(key: string, codec: DocCodec<V>): WorkingDoc<V> | undefined => {
      const slot = this.slots.get(key)
      if (slot === undefined || slot === null) return undefined
      if (!slot.decoded) {
        try {
          slot.value = codec.decode(slot.json ?? "")
        } catch {
          // Stored by code with another shape of the document: drop it, readers fold the stream again.
          this.context.drop(key, slot.version + 1)
          return undefined
        }
        slot.decoded = true
        slot.codec = codec as DocCodec<unknown>
      }
      return { version: slot.version, value: slot.value as V }
    },
    put: <V>(key: string, doc: WorkingDoc<V>, codec: DocCodec<V>, ttlSeconds?: number): void => {
      // Re-inserted, so the slots stay in order of last write and `trim` drops the longest untouched.
      this.slots.delete(key)
      this.slots.set(key, {
        version: doc.version,
        json: undefined,
        value: doc.value,
        decoded: true,
        codec: codec as DocCodec<unknown>
      })
      this.dirty.set(key, { ttlSeconds })
      this.dropped.delete(key)
      this.missingKeys.delete(key)
    },
    drop: (key: string, belowVersion: number): void => {
      this.slots.set(key, null)
      this.missingKeys.add(key)
      this.dirty.delete(key)
      this.dropped.set(key, belowVersion)
    },
    indexAdd: (key: string, score: number, member: string): void => {
      this.indexWrites.push({ _tag: "IndexAdd", key, score, member })
    },
    indexRemove: (key: string, member: string): void => {
      this.indexWrites.push({ _tag: "IndexRemove", key, member })
    }
  }

  /** The writes of everything applied since the last flush; the set keeps the new states. */
  flush(): Array<Write> {
    const writes: Array<Write> = this.indexWrites
    this.indexWrites = []
    for (const [key, belowVersion] of this.dropped) writes.push({ _tag: "Drop", key, belowVersion })
    this.dropped.clear()
    for (const [key, { ttlSeconds }] of this.dirty) {
      const slot = this.slots.get(key)
      if (slot === undefined || slot === null || slot.codec === undefined) continue
      const json = slot.codec.encode(slot.value)
      slot.json = json
      writes.push({ _tag: "Put", key, version: slot.version, json, ttlSeconds })
    }
    this.dirty.clear()
    return writes
  }

  /**
   * Forgets the documents known to be missing: someone else may have put them
   * since (a reader's fill, a re-feed), and an event must then apply to what is
   * there, or the document would stay behind its stream. Call before each
   * batch of a live runner.
   */
  forgetMissing(): void {
    for (const key of this.missingKeys) if (this.slots.get(key) === null) this.slots.delete(key)
    this.missingKeys.clear()
  }

  /** The document as the set holds it (after a flush: as committed), if it holds one. */
  held(key: string): WorkingDoc<unknown> | undefined {
    const slot = this.slots.get(key)
    return slot === undefined || slot === null || !slot.decoded
      ? undefined
      : { version: slot.version, value: slot.value }
  }

  /**
   * Back to capacity, forgetting the documents written longest ago (call
   * between batches, after a flush). A live runner's documents are hot for
   * seconds (an order's events come close together), so a cache that keeps
   * the latest ones saves as many loads as one that keeps everything, and its
   * memory levels off instead of growing until a purge.
   */
  trim(): void {
    let excess = this.slots.size - this.capacity
    if (excess <= 0) return
    for (const key of this.slots.keys()) {
      if (excess-- <= 0) break
      this.slots.delete(key)
      this.missingKeys.delete(key)
    }
  }
}
