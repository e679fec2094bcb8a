/** Why a payment command was refused. */
import { Schema } from "effect"
import { Money } from "../Money.ts"
import { PaymentStatus } from "./PaymentState.ts"

export class PaymentNotFound extends Schema.TaggedError<PaymentNotFound>()("PaymentNotFound", {
  paymentId: Schema.String
}) {
  override get message() {
    return `payment ${this.paymentId} does not exist`
  }
}

/** The id is taken by a payment with other details. */
export class PaymentAlreadyExists extends Schema.TaggedError<PaymentAlreadyExists>()("PaymentAlreadyExists", {
  paymentId: Schema.String
}) {
  override get message() {
    return `payment ${this.paymentId} already exists with other details`
  }
}

export class InvalidPaymentAmount extends Schema.TaggedError<InvalidPaymentAmount>()("InvalidPaymentAmount", {
  paymentId: Schema.String,
  amount: Money
}) {
  override get message() {
    return `payment ${this.paymentId}: amount ${this.amount} is not positive`
  }
}

/** The provider reported another amount than the payment's: rejected, nothing recorded. */
export class AmountMismatch extends Schema.TaggedError<AmountMismatch>()("AmountMismatch", {
  paymentId: Schema.String,
  expected: Money,
  received: Money
}) {
  override get message() {
    return `payment ${this.paymentId}: expected ${this.expected}, provider reported ${this.received}`
  }
}

/** Only a succeeded payment can be refunded. */
export class PaymentNotRefundable extends Schema.TaggedError<PaymentNotRefundable>()("PaymentNotRefundable", {
  paymentId: Schema.String,
  status: PaymentStatus
}) {
  override get message() {
    return `payment ${this.paymentId} is ${this.status}: nothing to refund`
  }
}

/** Too late to fail: the payment succeeded (the caller refunds it instead). */
export class PaymentAlreadySucceeded extends Schema.TaggedError<PaymentAlreadySucceeded>()("PaymentAlreadySucceeded", {
  paymentId: Schema.String,
  status: PaymentStatus
}) {
  override get message() {
    return `payment ${this.paymentId} is already ${this.status}`
  }
}

/** Every refusal of this aggregate, as one codec (its commands' errors cross the wire between nodes). */
export const PaymentError = Schema.Union([
  PaymentNotFound,
  PaymentAlreadyExists,
  InvalidPaymentAmount,
  AmountMismatch,
  PaymentNotRefundable,
  PaymentAlreadySucceeded
])
export type PaymentError = typeof PaymentError.Type
