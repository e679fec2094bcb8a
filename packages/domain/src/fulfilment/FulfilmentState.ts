/**
 * The saga of one order: where it stands (`stage`), what it has done that a
 * cancellation must undo (`reserved`, `captured`, `shipmentCreated`), and the
 * order's details it needs for every step. One case per stage would repeat
 * the details in seven places; the flags are what compensation reads.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"
import { CancelReason } from "../order/OrderEvents.ts"
import { PaymentMethod } from "../payment/PaymentEvents.ts"
import { FulfilmentLine } from "./FulfilmentEvents.ts"

export const Stage = Schema.Literals([
  /** Reserve every line and mark the order RESERVED. */
  "reserving",
  /** Take the money: debit the account, or ask the card provider. */
  "paying",
  /** Waiting for the provider's answer (or the payment timeout). */
  "awaiting_payment",
  /** Mark the order PAID and create its shipment. */
  "requesting_shipment",
  /** Waiting for the shipping service. */
  "awaiting_shipment",
  /** Mark shipment, order and stock shipped. */
  "recording_shipment",
  /** Done: shipped (delivery is the admin's). */
  "shipped",
  /** Undo what was done, then cancel the order. */
  "cancelling",
  /** Done: cancelled, everything undone. */
  "cancelled"
])
export type Stage = typeof Stage.Type

export const NotStarted = Schema.TaggedStruct("NotStarted", {})

export const Saga = Schema.TaggedStruct("Saga", {
  orderId: Schema.String,
  userId: Schema.String,
  lines: Schema.Array(FulfilmentLine),
  total: Money,
  currency: Currency,
  method: PaymentMethod,
  cardToken: Schema.NullOr(Schema.String),
  paymentId: Schema.String,
  shipmentId: Schema.String,
  stage: Stage,
  /** Stock is held for the order. */
  reserved: Schema.Boolean,
  /** The payment exists (created at the provider or for the account). */
  paymentRequested: Schema.Boolean,
  /** The money was taken. */
  captured: Schema.Boolean,
  shipmentCreated: Schema.Boolean,
  trackingNumber: Schema.NullOr(Schema.String),
  cancelReason: Schema.NullOr(CancelReason),
  /** A payment that succeeded after the saga gave up, not refunded yet. */
  lateRefundDue: Schema.Boolean,
  /** That late payment was refunded (so the same news read again is not a second one). */
  lateRefunded: Schema.Boolean
})
export type Saga = typeof Saga.Type

export const FulfilmentState = Schema.Union([NotStarted, Saga]).pipe(Schema.toTaggedUnion("_tag"))
export type FulfilmentState = typeof FulfilmentState.Type

export const initialState: FulfilmentState = { _tag: "NotStarted" }

/** The stages after which nothing is left to do (a late payment aside). */
export const isFinished = (saga: Saga): boolean => saga.stage === "shipped" || saga.stage === "cancelled"
