/**
 * What can be asked of an order. `PlaceOrder` arrives priced (the HTTP edge
 * prices it from the catalog); its lines are checked by the decider, which
 * refuses malformed ones with a typed error rather than at construction.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"
import { PaymentMethod } from "../payment/PaymentEvents.ts"
import { CancelReason } from "./OrderEvents.ts"

export const PlaceOrderLine = Schema.Struct({
  sku: Schema.String,
  name: Schema.String,
  quantity: Schema.Number,
  unitPrice: Money
})
export type PlaceOrderLine = typeof PlaceOrderLine.Type

export class PlaceOrder extends Schema.TaggedClass<PlaceOrder>()("PlaceOrder", {
  orderId: Schema.String,
  userId: Schema.String,
  lines: Schema.Array(PlaceOrderLine),
  total: Money,
  currency: Currency,
  paymentMethod: PaymentMethod,
  /** The provider's single-use card token, for card payments; the saga hands it to the provider. */
  cardToken: Schema.optionalKey(Schema.String),
  at: Schema.DateTimeUtcFromString
}) {}

export class MarkOrderReserved extends Schema.TaggedClass<MarkOrderReserved>()("MarkOrderReserved", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class MarkOrderPaid extends Schema.TaggedClass<MarkOrderPaid>()("MarkOrderPaid", {
  orderId: Schema.String,
  paymentId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class MarkOrderShipped extends Schema.TaggedClass<MarkOrderShipped>()("MarkOrderShipped", {
  orderId: Schema.String,
  shipmentId: Schema.String,
  trackingNumber: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class MarkOrderDelivered extends Schema.TaggedClass<MarkOrderDelivered>()("MarkOrderDelivered", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class CancelOrder extends Schema.TaggedClass<CancelOrder>()("CancelOrder", {
  orderId: Schema.String,
  reason: CancelReason,
  at: Schema.DateTimeUtcFromString
}) {}

export const OrderCommand = Schema.Union([
  PlaceOrder,
  MarkOrderReserved,
  MarkOrderPaid,
  MarkOrderShipped,
  MarkOrderDelivered,
  CancelOrder
]).pipe(Schema.toTaggedUnion("_tag"))
export type OrderCommand = typeof OrderCommand.Type
