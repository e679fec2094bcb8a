/** Payment handlers: the owner's view, and the provider's webhook. */
import { Payments } from "@agora/app"
import { Money } from "@agora/domain"
import { DateTime, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "./Api.ts"
import { unavailable } from "./AuthHandlers.ts"
import { CurrentUser, isAdmin } from "./CurrentUser.ts"
import { NotFound, Unprocessable } from "./Problems.ts"

export const paymentBody = (payment: Payments.PaymentView) => ({
  id: payment.id,
  order_id: payment.orderId,
  amount: Money.toDecimalString(payment.amount),
  status: payment.status,
  method: payment.method,
  failure_reason: payment.failureReason,
  created_at: DateTime.formatIso(payment.createdAt),
  updated_at: DateTime.formatIso(payment.updatedAt)
})

const noPayment = () =>
  Effect.fail(new NotFound({ detail: "No payment with this id is visible to you", code: "payment_not_found" }))

export const PaymentsHandlers = HttpApiBuilder.group(Api, "payments", (handlers) =>
  Effect.gen(function* () {
    const payments = yield* Payments.Payments
    return handlers.handle("payment", ({ params }) =>
      CurrentUser.use((caller) =>
        payments
          .get(params.id, { userId: caller.userId, admin: isAdmin(caller) })
          .pipe(
            Effect.map(paymentBody),
            Effect.catchTags({ PaymentNotFound: noPayment, UnexpectedPaymentError: unavailable })
          )
      )
    )
  })
)

const mismatch = (detail: string, field: string) =>
  Effect.fail(
    new Unprocessable({ detail, code: "callback_mismatch", errors: [{ path: ["payload", field], message: detail }] })
  )

export const PaymentWebhookHandlers = HttpApiBuilder.group(Api, "paymentWebhook", (handlers) =>
  Effect.gen(function* () {
    const payments = yield* Payments.Payments
    return handlers.handle("callback", ({ payload }) =>
      payments
        .recordProviderResult({
          paymentId: payload.payment_id,
          orderId: payload.order_id,
          status: payload.status,
          amount: payload.amount,
          errorMessage: payload.error_message ?? undefined,
          providerReference: payload.provider_reference ?? undefined
        })
        .pipe(
          Effect.tap((payment) => Effect.logInfo(`payment callback: the payment is ${payment.status}`)),
          Effect.map((payment) => ({ received: true, payment_id: payment.id, status: payment.status })),
          Effect.catchTags({
            PaymentNotFound: () =>
              Effect.fail(new NotFound({ detail: "No payment has this id", code: "payment_not_found" })),
            OrderMismatch: (e) =>
              Effect.andThen(
                Effect.logWarning(e.message),
                mismatch("The payment belongs to another order", "order_id")
              ),
            AmountMismatch: (e) =>
              Effect.andThen(
                Effect.logWarning(e.message),
                mismatch(`The payment's amount is ${Money.toDecimalString(e.expected)}`, "amount")
              ),
            UnexpectedPaymentError: unavailable
          }),
          // The order the provider names: the correlation id of the callback's lines.
          Effect.annotateLogs({ correlation_id: payload.order_id, payment_id: payload.payment_id })
        )
    )
  })
)
