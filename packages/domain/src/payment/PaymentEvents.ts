/**
 * What happened to one payment: the persisted contract of
 * `payment-<paymentId>` streams. A payment is settled by the first result it
 * gets (the provider's, or our own timeout or cancellation); a success that
 * arrives after we gave up is recorded apart, because that money must go back.
 */
import { Schema } from "effect"
import { Money } from "../Money.ts"

export const PaymentMethod = Schema.Literals(["account", "card"])
export type PaymentMethod = typeof PaymentMethod.Type

/** Declined by the provider, or given up by us (no answer in time, order cancelled). */
export const PaymentFailureReason = Schema.Literals(["declined", "timeout", "cancelled"])
export type PaymentFailureReason = typeof PaymentFailureReason.Type

export class PaymentCreated extends Schema.TaggedClass<PaymentCreated>()("PaymentCreated", {
  paymentId: Schema.String,
  orderId: Schema.String,
  userId: Schema.String,
  amount: Money,
  method: PaymentMethod,
  at: Schema.DateTimeUtcFromString
}) {}

export class PaymentSucceeded extends Schema.TaggedClass<PaymentSucceeded>()("PaymentSucceeded", {
  paymentId: Schema.String,
  orderId: Schema.String,
  amount: Money,
  providerReference: Schema.NullOr(Schema.String),
  at: Schema.DateTimeUtcFromString
}) {}

export class PaymentFailed extends Schema.TaggedClass<PaymentFailed>()("PaymentFailed", {
  paymentId: Schema.String,
  orderId: Schema.String,
  reason: PaymentFailureReason,
  errorMessage: Schema.NullOr(Schema.String),
  at: Schema.DateTimeUtcFromString
}) {}

/** The provider took the money after the payment had timed out or been cancelled: it is owed back. */
export class LatePaymentSucceeded extends Schema.TaggedClass<LatePaymentSucceeded>()("LatePaymentSucceeded", {
  paymentId: Schema.String,
  orderId: Schema.String,
  amount: Money,
  providerReference: Schema.NullOr(Schema.String),
  at: Schema.DateTimeUtcFromString
}) {}

export class PaymentRefunded extends Schema.TaggedClass<PaymentRefunded>()("PaymentRefunded", {
  paymentId: Schema.String,
  orderId: Schema.String,
  amount: Money,
  at: Schema.DateTimeUtcFromString
}) {}

export const PaymentEvent = Schema.Union([
  PaymentCreated,
  PaymentSucceeded,
  PaymentFailed,
  LatePaymentSucceeded,
  PaymentRefunded
]).pipe(Schema.toTaggedUnion("_tag"))
export type PaymentEvent = typeof PaymentEvent.Type
