/**
 * Checks an append before it reaches a store, so both adapters reject the same
 * malformed input with the same error and a bad unit never joins a batch.
 */
import { Effect } from "effect"
import { InvalidAppend, type StreamAppend } from "../EventStore.ts"
import { isUuid } from "../Uuid.ts"

export const validateAppends = (appends: ReadonlyArray<StreamAppend>): Effect.Effect<void, InvalidAppend> => {
  const fail = (reason: string) => Effect.fail(new InvalidAppend({ reason }))
  if (appends.length === 0) return fail("no streams to append to")
  const streams = new Set<string>()
  const ids = new Set<string>()
  for (const a of appends) {
    if (a.streamId.length === 0) return fail("empty stream id")
    if (streams.has(a.streamId)) return fail(`stream ${a.streamId} appears twice in one append`)
    streams.add(a.streamId)
    if (a.events.length === 0) return fail(`no events for stream ${a.streamId}`)
    const ev = a.expectedVersion
    if (ev._tag === "Exact" && !(Number.isSafeInteger(ev.version) && ev.version >= 0)) {
      return fail(`expected version must be a non-negative integer, got ${ev.version}`)
    }
    for (const e of a.events) {
      if (!isUuid(e.eventId)) return fail(`event id ${e.eventId} is not a UUID`)
      const id = e.eventId.toLowerCase()
      if (ids.has(id)) return fail(`event id ${e.eventId} appears twice in one append`)
      ids.add(id)
      if (e.type.length === 0) return fail("empty event type")
    }
  }
  return Effect.void
}
