/**
 * The event store's metrics (Effect `Metric`s, exported by the server's
 * `/metrics`): the events written to the log.
 *
 * Only events that were written count: an idempotent retry (every event id
 * already in its stream) writes nothing and a rejected append (a conflict, a
 * duplicate event id) writes nothing, so the counter's rate is the log's growth.
 */
import { Effect, Metric } from "effect"
import type { AppendResult } from "./EventStore.ts"

/** Events written to the log, by every adapter of this process. */
export const eventsAppended = Metric.counter("agora_events_appended_total", {
  description: "Events written to the event log (idempotent retries and rejected appends excluded)",
  incremental: true
})

/** How many events the results of one append wrote (replayed streams wrote none). */
export const writtenBy = (results: ReadonlyArray<AppendResult>): number => {
  let written = 0
  for (const result of results) {
    if (!result.replayed) written += result.lastPosition - result.firstPosition + 1
  }
  return written
}

/** Counts the events an append wrote. */
export const recordAppend = (results: ReadonlyArray<AppendResult>): Effect.Effect<void> => {
  const written = writtenBy(results)
  return written === 0 ? Effect.void : Metric.update(eventsAppended, written)
}

/**
 * Shows the counter at 0 from the start, so that a scrape before the first
 * append already has the series (and `rate()` counts the first events).
 */
export const register: Effect.Effect<void> = Metric.update(eventsAppended, 0)
