/**
 * Reading stored events inside projections: an aggregate's events decoded
 * from their envelope, the id of the aggregate a stream belongs to, and the
 * JSON codec of a document that holds an aggregate's state.
 */
import type { Aggregate } from "@agora/domain"
import type { RecordedEvent } from "@agora/eventstore"
import type { DocCodec } from "@agora/readmodels"
import { Schema } from "effect"

/** Decodes a stored event of `aggregate`, or returns why it cannot be read. */
export const eventDecoder = <Event extends { readonly _tag: string }>(
  aggregate: Pick<Aggregate<unknown, Event, unknown, unknown>, "eventSchema">
) => {
  const decode = Schema.decodeUnknownResult(aggregate.eventSchema)
  return (event: RecordedEvent): Event | { readonly poison: string } => {
    const result = decode({ ...(event.data as object), _tag: event.type })
    return result._tag === "Success"
      ? result.success
      : { poison: `undecodable ${event.type}: ${String(result.failure)}` }
  }
}

export const isPoison = (value: unknown): value is { readonly poison: string } =>
  typeof value === "object" && value !== null && "poison" in value && !("_tag" in value)

/** The aggregate id of a stream (`order-<id>` → `<id>`). */
export const idOf = (event: RecordedEvent): string => event.streamId.slice(event.streamType.length + 1)

/** A document holding a value of `schema`, stored as its encoded JSON. */
export const schemaCodec = <A>(schema: Schema.Codec<A, unknown>): DocCodec<A> => {
  const encode = Schema.encodeSync(schema)
  const decode = Schema.decodeUnknownSync(schema)
  return {
    encode: (value) => JSON.stringify(encode(value)),
    decode: (json) => decode(JSON.parse(json))
  }
}
