/**
 * A payment, one case per status (pending → succeeded → refunded, or
 * pending → failed, and failed → succeeded only for a late success that
 * then has to be refunded). `late` marks that case.
 */
import { Schema } from "effect"
import { Money } from "../Money.ts"
import { PaymentFailureReason, PaymentMethod } from "./PaymentEvents.ts"

export const PaymentStatus = Schema.Literals(["pending", "succeeded", "failed", "refunded"])
export type PaymentStatus = typeof PaymentStatus.Type

const details = {
  paymentId: Schema.String,
  orderId: Schema.String,
  userId: Schema.String,
  amount: Money,
  method: PaymentMethod,
  createdAt: Schema.DateTimeUtcFromString,
  updatedAt: Schema.DateTimeUtcFromString
}

export const NoPayment = Schema.TaggedStruct("NoPayment", {})
export const Pending = Schema.TaggedStruct("Pending", details)
export const Succeeded = Schema.TaggedStruct("Succeeded", {
  ...details,
  providerReference: Schema.NullOr(Schema.String),
  late: Schema.Boolean
})
export const Failed = Schema.TaggedStruct("Failed", {
  ...details,
  reason: PaymentFailureReason,
  errorMessage: Schema.NullOr(Schema.String)
})
export const Refunded = Schema.TaggedStruct("Refunded", {
  ...details,
  providerReference: Schema.NullOr(Schema.String)
})

export const PaymentState = Schema.Union([NoPayment, Pending, Succeeded, Failed, Refunded]).pipe(
  Schema.toTaggedUnion("_tag")
)
export type PaymentState = typeof PaymentState.Type
export type ExistingPayment = Exclude<PaymentState, { readonly _tag: "NoPayment" }>

export const initialState: PaymentState = { _tag: "NoPayment" }

const statuses = { Pending: "pending", Succeeded: "succeeded", Failed: "failed", Refunded: "refunded" } as const

/** The status the API shows. */
export const statusOf = (payment: ExistingPayment): PaymentStatus => statuses[payment._tag]
