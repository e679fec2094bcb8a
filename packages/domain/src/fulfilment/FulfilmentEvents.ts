/**
 * What the fulfilment saga of one order observed and decided: the persisted
 * contract of `fulfilment-<orderId>` streams. Each event is one transition of
 * the saga; replaying them gives the saga's state after a crash, and with it
 * the step it still has to take (`nextStep`).
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"
import { CancelReason } from "../order/OrderEvents.ts"
import { PaymentMethod } from "../payment/PaymentEvents.ts"

export const FulfilmentLine = Schema.Struct({ sku: Schema.String, quantity: Schema.Int })
export type FulfilmentLine = typeof FulfilmentLine.Type

/** The order was placed: the saga starts with what it needs to fulfil it. */
export class FulfilmentStarted extends Schema.TaggedClass<FulfilmentStarted>()("FulfilmentStarted", {
  orderId: Schema.String,
  userId: Schema.String,
  lines: Schema.Array(FulfilmentLine),
  total: Money,
  currency: Currency,
  method: PaymentMethod,
  cardToken: Schema.NullOr(Schema.String),
  paymentId: Schema.String,
  shipmentId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** Every line is reserved (and the order marked RESERVED), in one transaction. */
export class StockSecured extends Schema.TaggedClass<StockSecured>()("StockSecured", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** The card payment was created and asked of the provider; its answer comes by webhook. */
export class PaymentRequested extends Schema.TaggedClass<PaymentRequested>()("PaymentRequested", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** The money is taken (account debited, or the provider's success recorded). */
export class PaymentCaptured extends Schema.TaggedClass<PaymentCaptured>()("PaymentCaptured", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** The order is marked PAID and its shipment created (which publishes `order.paid`). */
export class ShipmentRequested extends Schema.TaggedClass<ShipmentRequested>()("ShipmentRequested", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** The shipping service shipped it. */
export class CarrierShipped extends Schema.TaggedClass<CarrierShipped>()("CarrierShipped", {
  orderId: Schema.String,
  trackingNumber: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** Shipment, order and stock all say shipped. The saga is done. */
export class FulfilmentShipped extends Schema.TaggedClass<FulfilmentShipped>()("FulfilmentShipped", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** The order cannot be fulfilled: compensation starts (release, refund, cancel what was done). */
export class CancellationStarted extends Schema.TaggedClass<CancellationStarted>()("CancellationStarted", {
  orderId: Schema.String,
  reason: CancelReason,
  at: Schema.DateTimeUtcFromString
}) {}

/** Everything done was undone; the order is CANCELLED. The saga is done. */
export class FulfilmentCancelled extends Schema.TaggedClass<FulfilmentCancelled>()("FulfilmentCancelled", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** The provider took money after the saga gave up on the payment: it is owed back. */
export class LatePaymentReceived extends Schema.TaggedClass<LatePaymentReceived>()("LatePaymentReceived", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** That late payment was refunded. */
export class LatePaymentRefunded extends Schema.TaggedClass<LatePaymentRefunded>()("LatePaymentRefunded", {
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export const FulfilmentEvent = Schema.Union([
  FulfilmentStarted,
  StockSecured,
  PaymentRequested,
  PaymentCaptured,
  ShipmentRequested,
  CarrierShipped,
  FulfilmentShipped,
  CancellationStarted,
  FulfilmentCancelled,
  LatePaymentReceived,
  LatePaymentRefunded
]).pipe(Schema.toTaggedUnion("_tag"))
export type FulfilmentEvent = typeof FulfilmentEvent.Type
