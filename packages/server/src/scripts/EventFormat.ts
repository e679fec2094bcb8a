/**
 * How the scripts show a stored event: as JSON with the API's snake_case
 * field names (`GET /api/orders/{id}/events` shows the same fields), or as
 * one compact line for people.
 */
import type { RecordedEvent } from "@agora/eventstore"

/** The event as a JSON object. */
export const toJson = (event: RecordedEvent) => ({
  position: event.position,
  stream_id: event.streamId,
  stream_type: event.streamType,
  version: event.version,
  event_id: event.eventId,
  type: event.type,
  recorded_at: event.recordedAt.toISOString(),
  data: event.data,
  metadata: event.metadata
})

/** `#1234  order-0193…  v3  OrderPaid  {"paymentId":…}`, the position padded to `positionWidth`. */
export const toLine = (event: RecordedEvent, positionWidth = 0): string =>
  `#${String(event.position).padEnd(positionWidth)}  ${event.streamId}  v${event.version}  ${event.type}  ${JSON.stringify(event.data)}`
