/** Fixed instants and helpers shared by the decider tests. */
import { assert } from "@effect/vitest"
import { DateTime, Schema } from "effect"

const start = DateTime.toEpochMillis(DateTime.makeUnsafe("2026-03-01T10:00:00.000Z"))

/** The n-th minute after a fixed start: distinct, ordered timestamps. */
export const at = (minute: number): DateTime.Utc => DateTime.makeUnsafe(start + minute * 60_000)

/** `value` survives encode → JSON text → decode unchanged, as the event store and snapshots keep it. */
export const assertJsonRoundTrip = <T>(schema: Schema.Codec<T, unknown>, value: T): void => {
  const text = JSON.stringify(Schema.encodeSync(schema)(value))
  assert.deepStrictEqual(Schema.decodeUnknownSync(schema)(JSON.parse(text)), value)
}
