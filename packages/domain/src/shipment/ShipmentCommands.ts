/** What can be asked of a shipment; quantities are checked by the decider. */
import { Schema } from "effect"

export const CreateShipmentItem = Schema.Struct({ sku: Schema.String, quantity: Schema.Number })
export type CreateShipmentItem = typeof CreateShipmentItem.Type

export class CreateShipment extends Schema.TaggedClass<CreateShipment>()("CreateShipment", {
  shipmentId: Schema.String,
  orderId: Schema.String,
  items: Schema.Array(CreateShipmentItem),
  at: Schema.DateTimeUtcFromString
}) {}

export class MarkShipmentShipped extends Schema.TaggedClass<MarkShipmentShipped>()("MarkShipmentShipped", {
  shipmentId: Schema.String,
  trackingNumber: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class MarkShipmentDelivered extends Schema.TaggedClass<MarkShipmentDelivered>()("MarkShipmentDelivered", {
  shipmentId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class CancelShipment extends Schema.TaggedClass<CancelShipment>()("CancelShipment", {
  shipmentId: Schema.String,
  reason: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export const ShipmentCommand = Schema.Union([
  CreateShipment,
  MarkShipmentShipped,
  MarkShipmentDelivered,
  CancelShipment
]).pipe(Schema.toTaggedUnion("_tag"))
export type ShipmentCommand = typeof ShipmentCommand.Type
