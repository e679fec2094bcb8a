/**
 * The inbox for the shipping service's answers: `order.shipped` and
 * `order.cancelled` from the broker, each handled once per `event_id`.
 *
 * - A message already in `inbox` is acknowledged with no second effect
 *   (counted in `agora_inbox_duplicates_total`).
 * - A message that is not what it claims — not JSON, a missing field, an
 *   order with no saga — is parked in `dead_letters` with the reason, logged
 *   and acknowledged: it never blocks or crashes the consumer.
 * - Agora's own messages on the same topics (`producer: "agora"`) are skipped.
 * - Otherwise the order's saga is told, then the message is recorded in the
 *   inbox, then acknowledged. A crash in between redelivers it; telling the
 *   saga again changes nothing (its reports are idempotent).
 *
 * Its logs, the saga's included, carry the message's order id as
 * `correlation_id` and its `event_id`.
 *
 * Messages about different orders are handled `concurrency` at a time (one
 * at a time, each costs a few database round trips, and under load the
 * answers piled up in the queue faster than they were handled); those about
 * one order still one after another, in delivery order, so of two
 * contradictory answers the first delivered wins.
 */
import { Broker, type IncomingMessage } from "@agora/broker"
import { Fulfilment } from "@agora/domain"
import { DateTime, Effect, Metric, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { FulfilmentSaga } from "../fulfilment/FulfilmentSaga.ts"
import * as KeyedLanes from "../internal/KeyedLanes.ts"

/** The consumer group (RabbitMQ queue) of the inbox. */
export const group = "agora-shipping-inbox"

export const duplicates = Metric.counter("agora_inbox_duplicates_total", {
  description: "Inbound messages dropped because their event_id was handled before",
  incremental: true
})
export const deadLettered = Metric.counter("agora_dead_letters_total", {
  description: "Inbound messages parked in dead_letters, unreadable or about no known order",
  incremental: true
})

const Shipped = Schema.Struct({
  event_id: Schema.String.pipe(Schema.check(Schema.isUUID())),
  type: Schema.Literal("order.shipped"),
  order_id: Schema.String,
  tracking_number: Schema.String.pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(100))),
  producer: Schema.optional(Schema.String)
})
const Cancelled = Schema.Struct({
  event_id: Schema.String.pipe(Schema.check(Schema.isUUID())),
  type: Schema.Literal("order.cancelled"),
  order_id: Schema.String,
  producer: Schema.optional(Schema.String)
})
const ShippingMessage = Schema.Union([Shipped, Cancelled])
const decodeMessage = Schema.decodeUnknownEffect(Schema.fromJsonString(ShippingMessage))

/** Creates the inbox's tables (idempotent; serialised across processes, which may start at once). */
export const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(
    Effect.gen(function* () {
      // Two `CREATE … IF NOT EXISTS` racing each other can both pass the check and one fail on the catalog
      // (seen with three nodes starting at once on an empty database).
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('agora_inbox'))`
      yield* sql`CREATE TABLE IF NOT EXISTS inbox (
        event_id uuid PRIMARY KEY,
        topic text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      )`
      yield* sql`CREATE TABLE IF NOT EXISTS dead_letters (
        id bigserial PRIMARY KEY,
        source text NOT NULL,
        topic text NOT NULL,
        value text NOT NULL,
        reason text NOT NULL,
        parked_at timestamptz NOT NULL DEFAULT now()
      )`
    })
  )
})

/** Handles one delivered message; fails only when it should be delivered again (a store is down). */
export const handle = (message: IncomingMessage) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const saga = yield* FulfilmentSaga
    const park = (reason: string) =>
      Effect.gen(function* () {
        yield* Effect.logWarning(`shipping inbox: parked a message on ${message.topic}: ${reason}`)
        yield* sql`INSERT INTO dead_letters (source, topic, value, reason)
                   VALUES (${group}, ${message.topic}, ${message.value.slice(0, 100_000)}, ${reason})`
        yield* Metric.update(deadLettered, 1)
      })
    const decoded = yield* Effect.result(decodeMessage(message.value))
    if (decoded._tag === "Failure") return yield* park(`unreadable: ${String(decoded.failure.message).slice(0, 500)}`)
    const m = decoded.success
    if (m.producer === "agora") return
    if (m.type !== message.topic) return yield* park(`a ${m.type} message on the topic ${message.topic}`)
    yield* Effect.gen(function* () {
      const seen = yield* sql`SELECT 1 FROM inbox WHERE event_id = ${m.event_id}`
      if (seen.length > 0) {
        yield* Effect.logDebug(`shipping inbox: ${m.type} seen before; dropped`)
        return yield* Metric.update(duplicates, 1)
      }
      yield* Effect.logInfo(`shipping inbox: ${m.type} received`)
      const at = yield* DateTime.now
      const report =
        m.type === "order.shipped"
          ? new Fulfilment.ReportCarrierShipped({ orderId: m.order_id, trackingNumber: m.tracking_number, at })
          : new Fulfilment.ReportCarrierCancelled({ orderId: m.order_id, at })
      const outcome = yield* Effect.result(saga.advance(m.order_id, report))
      if (outcome._tag === "Failure") {
        if (outcome.failure._tag === "FulfilmentNotFound") return yield* park(`no order ${m.order_id}`)
        return yield* Effect.fail(outcome.failure)
      }
      yield* sql`INSERT INTO inbox (event_id, topic) VALUES (${m.event_id}, ${message.topic}) ON CONFLICT DO NOTHING`
    }).pipe(Effect.annotateLogs({ correlation_id: m.order_id, event_id: m.event_id }))
  })

/** How many messages the inbox handles at once (one at a time per order). */
export const concurrency = 32

/** The consumer, for as long as its scope is open. */
export const run = Effect.gen(function* () {
  const broker = yield* Broker
  const inLane = KeyedLanes.make()
  yield* broker.subscribe({ group, topics: ["order.shipped", "order.cancelled"], concurrency }, (message) =>
    inLane(
      message.key ?? "",
      handle(message).pipe(Effect.tapCause((cause) => Effect.logWarning("shipping inbox: will retry a message", cause)))
    )
  )
})
