/**
 * The integration events the simulated shipping service reads and writes
 * (SPEC §4), as they travel on the broker: JSON with snake_case fields.
 * `order.paid` is decoded leniently on ids (any non-empty string) but
 * strictly on shape, so a message the simulator cannot act on is refused
 * before it is answered.
 */
import { Schema } from "effect"

const Id = Schema.NonEmptyString

/** One line of a paid order. */
export const ShipmentItem = Schema.Struct({
  item_id: Schema.String,
  sku: Schema.NonEmptyString,
  quantity: Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))
})

/** `order.paid`: the saga asks for a shipment. */
export const OrderPaid = Schema.Struct({
  event_id: Id,
  type: Schema.Literal("order.paid"),
  occurred_at: Schema.String,
  order_id: Id,
  shipment_id: Id,
  items: Schema.Array(ShipmentItem),
  idempotency_key: Schema.String
})
export type OrderPaid = typeof OrderPaid.Type

/** `order.shipped`: the shipment left the warehouse. */
export const OrderShipped = Schema.Struct({
  event_id: Id,
  type: Schema.Literal("order.shipped"),
  occurred_at: Schema.String,
  order_id: Id,
  shipment_id: Id,
  tracking_number: Schema.String,
  shipped_at: Schema.String
})
export type OrderShipped = typeof OrderShipped.Type

/** `order.cancelled`: the shipping service will not ship the order. */
export const OrderCancelled = Schema.Struct({
  event_id: Id,
  type: Schema.Literal("order.cancelled"),
  occurred_at: Schema.String,
  order_id: Id,
  shipment_id: Id,
  reason: Schema.Literal("shipping_cancelled")
})
export type OrderCancelled = typeof OrderCancelled.Type
