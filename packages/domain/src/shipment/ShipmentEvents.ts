/**
 * What happened to a shipment: the persisted contract of
 * `shipment-<shipmentId>` streams. The saga creates it for a paid order; the
 * shipping service ships or cancels it; delivery is marked last.
 */
import { Schema } from "effect"

export const ShipmentItem = Schema.Struct({
  sku: Schema.String,
  quantity: Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))
})
export type ShipmentItem = typeof ShipmentItem.Type

export class ShipmentCreated extends Schema.TaggedClass<ShipmentCreated>()("ShipmentCreated", {
  shipmentId: Schema.String,
  orderId: Schema.String,
  items: Schema.Array(ShipmentItem),
  at: Schema.DateTimeUtcFromString
}) {}

export class ShipmentShipped extends Schema.TaggedClass<ShipmentShipped>()("ShipmentShipped", {
  shipmentId: Schema.String,
  orderId: Schema.String,
  trackingNumber: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class ShipmentDelivered extends Schema.TaggedClass<ShipmentDelivered>()("ShipmentDelivered", {
  shipmentId: Schema.String,
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** The shipping service refused or abandoned the shipment (its reason, verbatim). */
export class ShipmentCancelled extends Schema.TaggedClass<ShipmentCancelled>()("ShipmentCancelled", {
  shipmentId: Schema.String,
  orderId: Schema.String,
  reason: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export const ShipmentEvent = Schema.Union([
  ShipmentCreated,
  ShipmentShipped,
  ShipmentDelivered,
  ShipmentCancelled
]).pipe(Schema.toTaggedUnion("_tag"))
export type ShipmentEvent = typeof ShipmentEvent.Type
