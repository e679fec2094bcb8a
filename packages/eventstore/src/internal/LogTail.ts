/**
 * The recent end of the global log, kept in memory for the subscriptions of
 * one process.
 *
 * Every subscription of a process (the projections, the saga's partitions, the
 * status feed…) follows the same log a few events apart. Without this each of
 * them asked PostgreSQL for every page itself, and asked once more to learn
 * that nothing new had come (about 55 log queries per order under the saga
 * load, for 8 appends). Here the pages read are kept (up to `capacity` events)
 * and:
 * - a read that starts inside the kept range is answered from memory;
 * - a read at the end of it asks PostgreSQL (one query shared by all who ask
 *   at once, `SharedReads`) and keeps what comes back;
 * - a read at the end when no append is known beyond it (`head()`: this
 *   process's own appends and the NOTIFYs of everyone's) is answered "nothing
 *   new" without a query, unless the last query there is older than
 *   `freshFor`, so that polling still finds appends whose NOTIFY was lost;
 * - a read before the kept range (a reader far behind) goes to PostgreSQL;
 *   one after it (a reader that starts at the head) too, and what it reads is
 *   kept from there on instead.
 *
 * - this process's own appends, once committed, are added by the appender
 *   (`feed`) when they start right after what is kept: the subscriptions woken
 *   by them read them without a query. Anything else (an append that does not
 *   follow on, because another transaction or process wrote in between) is left
 *   for a read to find.
 *
 * Why what is kept is the log: positions become visible in commit order (ADR
 * 0002), so a page read after position p holds every event after p up to its
 * last, now and later; pages that start where the kept range ends extend it
 * without a hole. Positions may skip numbers (a rolled-back append): the kept
 * range is "every event with `from < position <= upTo`", not a count.
 */
import { Effect } from "effect"
import * as SharedReads from "./SharedReads.ts"

export interface Options {
  /** Events kept at most (the oldest are dropped first). */
  readonly capacity: number
  /** How long an empty read at the end stands for "nothing new" when no append is known beyond it (ms). */
  readonly freshFor: number
  /** The highest position known to be appended (own appends, NOTIFYs). */
  readonly head: () => number
}

export interface LogTail<A, E> {
  readonly read: (options: { readonly after: number; readonly limit: number }) => Effect.Effect<ReadonlyArray<A>, E>
  /**
   * Adds committed events, in position order, that directly follow what is kept (the first at `upTo + 1`, each
   * next one after the last): the positions an append got under the log's lock, committed, with nothing else
   * in between. Events that do not follow on are ignored (a read finds them). False when ignored.
   */
  readonly feed: (events: ReadonlyArray<A>) => boolean
  /** What is kept now, for tests: every event with `from < position <= upTo`. */
  readonly range: () => { readonly from: number; readonly upTo: number; readonly size: number }
}

export const make = <A extends { readonly position: number }, E>(
  query: (options: { readonly after: number; readonly limit: number }) => Effect.Effect<ReadonlyArray<A>, E>,
  options: Options
): LogTail<A, E> => {
  const shared = SharedReads.make(query)
  let kept: Array<A> = []
  // Nothing kept until the first read that reaches the end: `from` = `upTo` = its start.
  let from = -1
  let upTo = -1
  let queriedAt = 0

  /** Index of the first kept event after `after` (binary search). */
  const firstAfter = (after: number) => {
    let low = 0
    let high = kept.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (kept[mid]!.position <= after) low = mid + 1
      else high = mid
    }
    return low
  }

  const keep = (after: number, page: ReadonlyArray<A>) => {
    if (from < 0 || after > upTo) {
      // The first read, or one ahead of what is kept (a reader that starts at the head): keep from here on.
      kept = []
      from = after
      upTo = after
    }
    // A page that starts before the kept range's end continues it without a hole; one before it, from the past, does not.
    if (after < from) return
    if (after === upTo) queriedAt = Date.now()
    extend(page)
  }

  /** Adds the events of `page` after what is kept (the page continues it), dropping the oldest over capacity. */
  const extend = (page: ReadonlyArray<A>) => {
    for (const event of page) {
      if (event.position <= upTo) continue
      kept.push(event)
      upTo = event.position
    }
    if (kept.length > options.capacity + (options.capacity >>> 2)) {
      const drop = kept.length - options.capacity
      from = kept[drop - 1]!.position
      kept = kept.slice(drop)
    }
  }

  const read = ({ after, limit }: { readonly after: number; readonly limit: number }) =>
    Effect.suspend((): Effect.Effect<ReadonlyArray<A>, E> => {
      if (from >= 0 && after >= from && after < upTo) {
        const start = firstAfter(after)
        return Effect.succeed(kept.slice(start, start + limit))
      }
      if (after === upTo && options.head() <= upTo && Date.now() - queriedAt < options.freshFor) {
        return Effect.succeed([])
      }
      return Effect.tap(shared({ after, limit }), (page) => Effect.sync(() => keep(after, page)))
    })

  const feed = (events: ReadonlyArray<A>) => {
    if (from < 0 || events.length === 0 || events[0]!.position !== upTo + 1) return false
    for (let i = 1; i < events.length; i++) if (events[i]!.position !== events[i - 1]!.position + 1) return false
    // Not an answer from the log: what `freshFor` measures (the last query at the end) stays as it was.
    extend(events)
    return true
  }

  return { read, feed, range: () => ({ from, upTo, size: kept.length }) }
}
