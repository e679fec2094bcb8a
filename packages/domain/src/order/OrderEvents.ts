/**
 * What happened to an order: the persisted contract of `order-<orderId>`
 * streams. One event per step of the state machine
 * PENDING → RESERVED → PAID → SHIPPED → DELIVERED, or CANCELLED before SHIPPED.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"
import { PaymentMethod } from "../payment/PaymentEvents.ts"

/** A priced line: the catalog price at the moment the order was placed. */
export const OrderLine = Schema.Struct({
  sku: Schema.String,
  name: Schema.String,
  quantity: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 100 }))),
  unitPrice: Money
})
export type OrderLine = typeof OrderLine.Type

export const CancelReason = Schema.Literals([
  "out_of_stock",
  "payment_declined",
  "insufficient_funds",
  "payment_timeout",
  "shipping_cancelled",
  "cancelled_by_user",
  "cancelled_by_admin"
])
export type CancelReason = typeof CancelReason.Type

export class OrderPlaced extends Schema.TaggedClass<OrderPlaced>()("OrderPlaced", {
  orderId: Schema.String,
  userId: Schema.String,
  lines: Schema.Array(OrderLine),
  total: Money,
  currency: Currency,
  paymentMethod: PaymentMethod,
  /** For card payments: the provider's single-use token (a reference, not card data). */
  cardToken: Schema.optionalKey(Schema.String),
  at: Schema.DateTimeUtcFromString
}) {}

export class OrderReserved extends Schema.TaggedClass<OrderReserved>()("OrderReserved", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class OrderPaid extends Schema.TaggedClass<OrderPaid>()("OrderPaid", {
  orderId: Schema.String,
  paymentId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class OrderShipped extends Schema.TaggedClass<OrderShipped>()("OrderShipped", {
  orderId: Schema.String,
  shipmentId: Schema.String,
  trackingNumber: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class OrderDelivered extends Schema.TaggedClass<OrderDelivered>()("OrderDelivered", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class OrderCancelled extends Schema.TaggedClass<OrderCancelled>()("OrderCancelled", {
  orderId: Schema.String,
  reason: CancelReason,
  at: Schema.DateTimeUtcFromString
}) {}

export const OrderEvent = Schema.Union([
  OrderPlaced,
  OrderReserved,
  OrderPaid,
  OrderShipped,
  OrderDelivered,
  OrderCancelled
]).pipe(Schema.toTaggedUnion("_tag"))
export type OrderEvent = typeof OrderEvent.Type
