/**
 * Reads a range of the global event log a page at a time, filtered by
 * stream, stream type and event type: the source of `pnpm replay`, and of
 * anything else that re-feeds history (a projection rebuild, `--project`).
 * Only one page is in memory at a time, so a log of millions of events costs
 * no more than a page.
 *
 * The range ends where the log ended when reading began (or at `to`), so a
 * replay of a busy log finishes. A single stream is read through its own
 * index, not by scanning the log for it.
 */
import { EventStore, type EventStoreError, type RecordedEvent } from "@agora/eventstore"
import { Effect, Stream } from "effect"

export interface LogFilter {
  /** Only this stream (`order-<id>`). */
  readonly streamId?: string
  /** Only streams of these types (`order`, `account`…). */
  readonly streamTypes?: ReadonlyArray<string>
  /** Only these event types (`OrderPlaced`…). */
  readonly eventTypes?: ReadonlyArray<string>
}

export interface ReadOptions {
  /** The first position to read (inclusive; default 1). */
  readonly from?: number
  /** The last position to read (inclusive; default: the head when reading begins). */
  readonly to?: number
  /** Events read per query (default 1,000). */
  readonly pageSize?: number
  readonly filter?: LogFilter
}

/** One page read: the events that pass the filter, and how much was read to find them. */
export interface Page {
  readonly events: ReadonlyArray<RecordedEvent>
  /** Events read for this page, filtered out or not. */
  readonly scanned: number
  /** The position of the last event read (0 before the first). */
  readonly through: number
}

/** An open read: its resolved range, how many events it expects to scan, and its pages. */
export interface LogRead {
  readonly from: number
  readonly to: number
  /** Events the read will scan (for a progress bar); exact for the log, the stream's length for one stream. */
  readonly expected: number
  readonly pages: Stream.Stream<Page, EventStoreError>
}

/** Whether an event passes a filter. */
export const matches = (filter: LogFilter) => {
  const streamTypes = filter.streamTypes === undefined ? undefined : new Set(filter.streamTypes)
  const eventTypes = filter.eventTypes === undefined ? undefined : new Set(filter.eventTypes)
  return (event: RecordedEvent): boolean =>
    (filter.streamId === undefined || event.streamId === filter.streamId) &&
    (streamTypes === undefined || streamTypes.has(event.streamType)) &&
    (eventTypes === undefined || eventTypes.has(event.type))
}

/** Opens a read of the log (positions `from..to`), to be consumed as a stream of pages. */
export const open = (options: ReadOptions = {}): Effect.Effect<LogRead, EventStoreError, EventStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const pageSize = Math.max(1, options.pageSize ?? 1000)
    const filter = options.filter ?? {}
    const keep = matches(filter)
    const head = yield* store.headPosition
    const from = Math.max(1, options.from ?? 1)
    const to = Math.min(options.to ?? head, head)

    if (filter.streamId !== undefined) {
      const streamId = filter.streamId
      const version = yield* store.streamVersion(streamId)
      // Versions grow with positions, so the stream is read in version order until it passes `to`.
      const pages = Stream.unfold(1, (fromVersion) =>
        fromVersion > version
          ? Effect.succeed(undefined)
          : Effect.map(store.readStream(streamId, { fromVersion, maxCount: pageSize }), (read) => {
              const last = read.at(-1)
              if (last === undefined) return undefined
              const inRange = read.filter((e) => e.position >= from && e.position <= to)
              const page: Page = { events: inRange.filter(keep), scanned: read.length, through: last.position }
              const next = read.length < pageSize || last.position >= to ? version + 1 : last.version + 1
              return [page, next] as const
            })
      )
      return { from, to, expected: version, pages }
    }

    const pages = Stream.unfold(from - 1, (after) =>
      after >= to
        ? Effect.succeed(undefined)
        : Effect.map(store.readAll({ after, limit: Math.min(pageSize, to - after) }), (read) => {
            const last = read.at(-1)
            if (last === undefined) return undefined
            const inRange = last.position <= to ? read : read.filter((e) => e.position <= to)
            const page: Page = { events: inRange.filter(keep), scanned: inRange.length, through: last.position }
            return [page, last.position] as const
          })
    )
    return { from, to, expected: Math.max(0, to - from + 1), pages }
  })
