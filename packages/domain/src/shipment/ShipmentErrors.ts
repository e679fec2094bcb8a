/** Why a shipment command was refused. */
import { Schema } from "effect"
import { ShipmentStatus } from "./ShipmentState.ts"

export class ShipmentNotFound extends Schema.TaggedError<ShipmentNotFound>()("ShipmentNotFound", {
  shipmentId: Schema.String
}) {
  override get message() {
    return `shipment ${this.shipmentId} does not exist`
  }
}

/** The id is taken by a shipment for another order or other items. */
export class ShipmentAlreadyExists extends Schema.TaggedError<ShipmentAlreadyExists>()("ShipmentAlreadyExists", {
  shipmentId: Schema.String
}) {
  override get message() {
    return `shipment ${this.shipmentId} already exists with other contents`
  }
}

export class InvalidShipment extends Schema.TaggedError<InvalidShipment>()("InvalidShipment", {
  shipmentId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `shipment ${this.shipmentId}: ${this.reason}`
  }
}

export class IllegalShipmentTransition extends Schema.TaggedError<IllegalShipmentTransition>()(
  "IllegalShipmentTransition",
  { shipmentId: Schema.String, from: ShipmentStatus, to: ShipmentStatus }
) {
  override get message() {
    return `shipment ${this.shipmentId} cannot go from ${this.from} to ${this.to}`
  }
}

/** Every refusal of this aggregate, as one codec (its commands' errors cross the wire between nodes). */
export const ShipmentError = Schema.Union([
  ShipmentNotFound,
  ShipmentAlreadyExists,
  InvalidShipment,
  IllegalShipmentTransition
])
export type ShipmentError = typeof ShipmentError.Type
