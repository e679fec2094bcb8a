/**
 * What the saga is told: the order was placed, and then the outcome of each
 * of its own steps or a fact from outside (a payment webhook, the shipping
 * service, the order cancelled by its owner). Every report may arrive more
 * than once; the decider records each transition once.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"
import { CancelReason } from "../order/OrderEvents.ts"
import { PaymentMethod } from "../payment/PaymentEvents.ts"
import { FulfilmentLine } from "./FulfilmentEvents.ts"

const at = { orderId: Schema.String, at: Schema.DateTimeUtcFromString }

export class StartFulfilment extends Schema.TaggedClass<StartFulfilment>()("StartFulfilment", {
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

export class ReportStockSecured extends Schema.TaggedClass<ReportStockSecured>()("ReportStockSecured", at) {}
export class ReportStockUnavailable extends Schema.TaggedClass<ReportStockUnavailable>()(
  "ReportStockUnavailable",
  at
) {}
export class ReportPaymentRequested extends Schema.TaggedClass<ReportPaymentRequested>()(
  "ReportPaymentRequested",
  at
) {}
export class ReportPaymentCaptured extends Schema.TaggedClass<ReportPaymentCaptured>()("ReportPaymentCaptured", at) {}

export class ReportPaymentFailed extends Schema.TaggedClass<ReportPaymentFailed>()("ReportPaymentFailed", {
  ...at,
  reason: Schema.Literals(["payment_declined", "insufficient_funds", "payment_timeout"])
}) {}

export class ReportShipmentRequested extends Schema.TaggedClass<ReportShipmentRequested>()(
  "ReportShipmentRequested",
  at
) {}

export class ReportCarrierShipped extends Schema.TaggedClass<ReportCarrierShipped>()("ReportCarrierShipped", {
  ...at,
  trackingNumber: Schema.String
}) {}

export class ReportCarrierCancelled extends Schema.TaggedClass<ReportCarrierCancelled>()(
  "ReportCarrierCancelled",
  at
) {}
export class ReportShipmentRecorded extends Schema.TaggedClass<ReportShipmentRecorded>()(
  "ReportShipmentRecorded",
  at
) {}

/** The order says CANCELLED (its owner or an admin cancelled it, or a step found it so). */
export class ReportOrderCancelled extends Schema.TaggedClass<ReportOrderCancelled>()("ReportOrderCancelled", {
  ...at,
  reason: CancelReason
}) {}

export class ReportCompensated extends Schema.TaggedClass<ReportCompensated>()("ReportCompensated", at) {}
export class ReportLatePayment extends Schema.TaggedClass<ReportLatePayment>()("ReportLatePayment", at) {}
export class ReportLateRefund extends Schema.TaggedClass<ReportLateRefund>()("ReportLateRefund", at) {}

export const FulfilmentCommand = Schema.Union([
  StartFulfilment,
  ReportStockSecured,
  ReportStockUnavailable,
  ReportPaymentRequested,
  ReportPaymentCaptured,
  ReportPaymentFailed,
  ReportShipmentRequested,
  ReportCarrierShipped,
  ReportCarrierCancelled,
  ReportShipmentRecorded,
  ReportOrderCancelled,
  ReportCompensated,
  ReportLatePayment,
  ReportLateRefund
]).pipe(Schema.toTaggedUnion("_tag"))
export type FulfilmentCommand = typeof FulfilmentCommand.Type
