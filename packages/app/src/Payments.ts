/**
 * Payments as their owner and the admin see them, and the provider's answers
 * (the webhook). A payment is visible to the user who pays and to admins;
 * to anyone else it does not exist. The provider's answer is recorded by the
 * payment's actor, whose decider makes a duplicate delivery a no-op and
 * refuses another amount; the saga reacts to what it records.
 */
import { ActorRuntime } from "@agora/actors"
import { type Money, Payment } from "@agora/domain"
import { Uuid } from "@agora/eventstore"
import { Context, DateTime, Effect, Layer, Schema } from "effect"
import type { Viewer } from "./Orders.ts"

/** A payment as the API shows it. */
export interface PaymentView {
  readonly id: string
  readonly orderId: string
  readonly userId: string
  readonly amount: Money.Money
  readonly status: Payment.PaymentStatus
  readonly method: Payment.PaymentMethod
  readonly failureReason: Payment.PaymentFailureReason | null
  readonly createdAt: DateTime.Utc
  readonly updatedAt: DateTime.Utc
}

/** The provider's report of a payment's outcome. */
export interface ProviderResult {
  readonly paymentId: string
  readonly orderId: string
  readonly status: "succeeded" | "failed"
  readonly amount: Money.Money
  readonly errorMessage?: string | undefined
  readonly providerReference?: string | undefined
}

/** The report names another order than the payment's: rejected, nothing recorded. */
export class OrderMismatch extends Schema.TaggedError<OrderMismatch>()("OrderMismatch", {
  paymentId: Schema.String,
  orderId: Schema.String
}) {
  override get message() {
    return `payment ${this.paymentId} does not belong to order ${this.orderId}`
  }
}

/** A failure of the store or runtime, not of the request: the API answers 503. */
export class UnexpectedPaymentError extends Schema.TaggedError<UnexpectedPaymentError>()("UnexpectedPaymentError", {
  cause: Schema.Defect()
}) {}

export class Payments extends Context.Service<
  Payments,
  {
    readonly get: (
      paymentId: string,
      viewer: Viewer
    ) => Effect.Effect<PaymentView, Payment.PaymentNotFound | UnexpectedPaymentError>
    /** Records the provider's answer; a repeat of a recorded answer changes nothing. */
    readonly recordProviderResult: (
      result: ProviderResult
    ) => Effect.Effect<
      PaymentView,
      Payment.PaymentNotFound | OrderMismatch | Payment.AmountMismatch | UnexpectedPaymentError
    >
  }
>()("@agora/app/Payments") {}

export const viewOf = (state: Payment.ExistingPayment): PaymentView => ({
  id: state.paymentId,
  orderId: state.orderId,
  userId: state.userId,
  amount: state.amount,
  status: Payment.statusOf(state),
  method: state.method,
  failureReason: state._tag === "Failed" ? state.reason : null,
  createdAt: state.createdAt,
  updatedAt: state.updatedAt
})

export const make = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const unexpected = (cause: unknown) => Effect.fail(new UnexpectedPaymentError({ cause }))
  const infrastructure = { ConcurrencyConflict: unexpected, EventStoreError: unexpected } as const

  const existing = Effect.fn("Payments.existing")(function* (paymentId: string) {
    if (!Uuid.isUuid(paymentId)) return yield* new Payment.PaymentNotFound({ paymentId })
    const { state } = yield* actors.state(Payment.Payment, paymentId).pipe(Effect.catchTags(infrastructure))
    if (state._tag === "NoPayment") return yield* new Payment.PaymentNotFound({ paymentId })
    return state
  })

  const get = Effect.fn("Payments.get")(function* (paymentId: string, viewer: Viewer) {
    const state = yield* existing(paymentId)
    if (!viewer.admin && state.userId !== viewer.userId) return yield* new Payment.PaymentNotFound({ paymentId })
    return viewOf(state)
  })

  const recordProviderResult = Effect.fn("Payments.recordProviderResult")(function* (report: ProviderResult) {
    const { paymentId } = report
    const state = yield* existing(paymentId)
    if (state.orderId !== report.orderId) return yield* new OrderMismatch({ paymentId, orderId: report.orderId })
    const at = yield* DateTime.now
    const result = yield* actors
      .send(
        Payment.Payment,
        paymentId,
        new Payment.RecordProviderResult({
          paymentId,
          status: report.status,
          amount: report.amount,
          ...(report.providerReference === undefined ? {} : { providerReference: report.providerReference }),
          ...(report.errorMessage === undefined ? {} : { errorMessage: report.errorMessage }),
          at
        }),
        { correlationId: state.orderId }
      )
      .pipe(
        Effect.catchTags({
          ...infrastructure,
          PaymentAlreadyExists: unexpected,
          InvalidPaymentAmount: unexpected,
          PaymentNotRefundable: unexpected,
          PaymentAlreadySucceeded: unexpected
        })
      )
    if (result.state._tag === "NoPayment") return yield* new Payment.PaymentNotFound({ paymentId })
    return viewOf(result.state)
  })

  return Payments.of({ get, recordProviderResult })
})

export const layer = Layer.effect(Payments, make)
