/**
 * An order, one case per status; each case carries exactly what that status
 * knows (a paid order its payment id, a shipped one its shipment and tracking
 * number, a cancelled one its reason and the payment to refund, if any).
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"
import { PaymentMethod } from "../payment/PaymentEvents.ts"
import { CancelReason, OrderLine } from "./OrderEvents.ts"

export const OrderStatus = Schema.Literals(["PENDING", "RESERVED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"])
export type OrderStatus = typeof OrderStatus.Type

const details = {
  orderId: Schema.String,
  userId: Schema.String,
  lines: Schema.Array(OrderLine),
  total: Money,
  currency: Currency,
  paymentMethod: PaymentMethod,
  placedAt: Schema.DateTimeUtcFromString,
  updatedAt: Schema.DateTimeUtcFromString
}
const shipping = { paymentId: Schema.String, shipmentId: Schema.String, trackingNumber: Schema.String }

export const NoOrder = Schema.TaggedStruct("NoOrder", {})
export const Pending = Schema.TaggedStruct("Pending", details)
export const Reserved = Schema.TaggedStruct("Reserved", details)
export const Paid = Schema.TaggedStruct("Paid", { ...details, paymentId: Schema.String })
export const Shipped = Schema.TaggedStruct("Shipped", { ...details, ...shipping })
export const Delivered = Schema.TaggedStruct("Delivered", { ...details, ...shipping })
export const Cancelled = Schema.TaggedStruct("Cancelled", {
  ...details,
  reason: CancelReason,
  /** Set when the order was paid before it was cancelled: that payment is to be refunded. */
  paymentId: Schema.NullOr(Schema.String)
})

export const OrderState = Schema.Union([NoOrder, Pending, Reserved, Paid, Shipped, Delivered, Cancelled]).pipe(
  Schema.toTaggedUnion("_tag")
)
export type OrderState = typeof OrderState.Type
export type PlacedOrder = Exclude<OrderState, { readonly _tag: "NoOrder" }>

export const initialState: OrderState = { _tag: "NoOrder" }

const statuses = {
  Pending: "PENDING",
  Reserved: "RESERVED",
  Paid: "PAID",
  Shipped: "SHIPPED",
  Delivered: "DELIVERED",
  Cancelled: "CANCELLED"
} as const

/** The status the API shows. */
export const statusOf = (order: PlacedOrder): OrderStatus => statuses[order._tag]

/** The moves the state machine allows (SPEC §3); DELIVERED and CANCELLED are terminal. */
export const transitions: { readonly [From in OrderStatus]: ReadonlyArray<OrderStatus> } = {
  PENDING: ["RESERVED", "CANCELLED"],
  RESERVED: ["PAID", "CANCELLED"],
  PAID: ["SHIPPED", "CANCELLED"],
  SHIPPED: ["DELIVERED"],
  DELIVERED: [],
  CANCELLED: []
}
