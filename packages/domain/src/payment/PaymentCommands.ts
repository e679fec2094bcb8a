/**
 * What can be asked of a payment: create it, record the provider's answer
 * (webhook or account debit), mark it refunded, or give up on it.
 */
import { Schema } from "effect"
import { Money } from "../Money.ts"
import { PaymentMethod } from "./PaymentEvents.ts"

export class CreatePayment extends Schema.TaggedClass<CreatePayment>()("CreatePayment", {
  paymentId: Schema.String,
  orderId: Schema.String,
  userId: Schema.String,
  amount: Money,
  method: PaymentMethod,
  at: Schema.DateTimeUtcFromString
}) {}

export class RecordProviderResult extends Schema.TaggedClass<RecordProviderResult>()("RecordProviderResult", {
  paymentId: Schema.String,
  status: Schema.Literals(["succeeded", "failed"]),
  amount: Money,
  providerReference: Schema.optionalKey(Schema.String),
  errorMessage: Schema.optionalKey(Schema.String),
  at: Schema.DateTimeUtcFromString
}) {}

export class MarkPaymentRefunded extends Schema.TaggedClass<MarkPaymentRefunded>()("MarkPaymentRefunded", {
  paymentId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

/** Give up before a success: no answer in time, or the order was cancelled. */
export class FailPayment extends Schema.TaggedClass<FailPayment>()("FailPayment", {
  paymentId: Schema.String,
  reason: Schema.Literals(["timeout", "cancelled"]),
  at: Schema.DateTimeUtcFromString
}) {}

export const PaymentCommand = Schema.Union([
  CreatePayment,
  RecordProviderResult,
  MarkPaymentRefunded,
  FailPayment
]).pipe(Schema.toTaggedUnion("_tag"))
export type PaymentCommand = typeof PaymentCommand.Type
