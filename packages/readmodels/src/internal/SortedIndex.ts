/**
 * A sorted set in process, ordered as a Redis ZSET is: by score, then by the
 * member's UTF-8 bytes, so that the in-process adapter pages exactly like the
 * Redis one (ties and non-ASCII members included).
 */
import type { IndexEntry } from "../ReadModelStore.ts"

// UTF-16 code units sort like code points (and so like UTF-8 bytes) except surrogates,
// which stand for code points above U+FFFF and must therefore sort after U+E000–U+FFFF.
const rank = (unit: number) => (unit < 0xd800 ? unit : unit < 0xe000 ? unit + 0x2000 : unit - 0x800)

/** Compares two strings by their UTF-8 bytes. */
export const compareBytewise = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return rank(x) - rank(y)
  }
  return a.length - b.length
}

const compareEntries = (a: IndexEntry, b: IndexEntry) =>
  a.score < b.score ? -1 : a.score > b.score ? 1 : compareBytewise(a.member, b.member)

/** The first index in `0..length` where `isAfter` holds, for a predicate that is false then true along the array. */
const firstWhere = <A>(items: ReadonlyArray<A>, isAfter: (item: A) => boolean) => {
  let low = 0
  let high = items.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (isAfter(items[mid]!)) high = mid
    else low = mid + 1
  }
  return low
}

export class SortedIndex {
  private readonly scores = new Map<string, number>()
  private readonly entries: Array<IndexEntry> = []

  get size(): number {
    return this.entries.length
  }

  add(member: string, score: number): void {
    const previous = this.scores.get(member)
    if (previous === score) return
    if (previous !== undefined) this.removeEntry({ member, score: previous })
    const entry = { member, score }
    this.entries.splice(
      firstWhere(this.entries, (e) => compareEntries(e, entry) > 0),
      0,
      entry
    )
    this.scores.set(member, score)
  }

  remove(member: string): void {
    const score = this.scores.get(member)
    if (score === undefined) return
    this.removeEntry({ member, score })
    this.scores.delete(member)
  }

  private removeEntry(entry: IndexEntry) {
    this.entries.splice(
      firstWhere(this.entries, (e) => compareEntries(e, entry) >= 0),
      1
    )
  }

  /** Entries with `above < score < below`, from the low end (`asc`) or the high end (`desc`). */
  range(order: "asc" | "desc", above: number | undefined, below: number | undefined, limit: number): Array<IndexEntry> {
    const out: Array<IndexEntry> = []
    if (order === "asc") {
      const start = above === undefined ? 0 : firstWhere(this.entries, (e) => e.score > above)
      for (let i = start; i < this.entries.length && out.length < limit; i++) {
        const entry = this.entries[i]!
        if (below !== undefined && entry.score >= below) break
        out.push(entry)
      }
    } else {
      const end = below === undefined ? this.entries.length : firstWhere(this.entries, (e) => e.score >= below)
      for (let i = end - 1; i >= 0 && out.length < limit; i--) {
        const entry = this.entries[i]!
        if (above !== undefined && entry.score <= above) break
        out.push(entry)
      }
    }
    return out
  }

  /** Members after `after` (exclusive) in bytewise order; meaningful when all members share one score. */
  byMember(after: string | undefined, limit: number): Array<string> {
    const start = after === undefined ? 0 : firstWhere(this.entries, (e) => compareBytewise(e.member, after) > 0)
    const out: Array<string> = []
    for (let i = start; i < this.entries.length && out.length < limit; i++) out.push(this.entries[i]!.member)
    return out
  }

  /** Every entry, lowest first (a copy). */
  all(): Array<IndexEntry> {
    return this.entries.slice()
  }
}
