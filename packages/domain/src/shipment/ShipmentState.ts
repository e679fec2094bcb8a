/** A shipment, one case per status: created → shipped → delivered, or created → cancelled. */
import { Schema } from "effect"
import { ShipmentItem } from "./ShipmentEvents.ts"

export const ShipmentStatus = Schema.Literals(["created", "shipped", "delivered", "cancelled"])
export type ShipmentStatus = typeof ShipmentStatus.Type

const details = {
  shipmentId: Schema.String,
  orderId: Schema.String,
  items: Schema.Array(ShipmentItem),
  createdAt: Schema.DateTimeUtcFromString,
  updatedAt: Schema.DateTimeUtcFromString
}

export const NoShipment = Schema.TaggedStruct("NoShipment", {})
export const Created = Schema.TaggedStruct("Created", details)
export const Shipped = Schema.TaggedStruct("Shipped", { ...details, trackingNumber: Schema.String })
export const Delivered = Schema.TaggedStruct("Delivered", { ...details, trackingNumber: Schema.String })
export const Cancelled = Schema.TaggedStruct("Cancelled", { ...details, reason: Schema.String })

export const ShipmentState = Schema.Union([NoShipment, Created, Shipped, Delivered, Cancelled]).pipe(
  Schema.toTaggedUnion("_tag")
)
export type ShipmentState = typeof ShipmentState.Type
export type ExistingShipment = Exclude<ShipmentState, { readonly _tag: "NoShipment" }>

export const initialState: ShipmentState = { _tag: "NoShipment" }

const statuses = { Created: "created", Shipped: "shipped", Delivered: "delivered", Cancelled: "cancelled" } as const

/** The status the API shows. */
export const statusOf = (shipment: ExistingShipment): ShipmentStatus => statuses[shipment._tag]
