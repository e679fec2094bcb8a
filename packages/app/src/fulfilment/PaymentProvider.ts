/**
 * The card payment provider's API, as Agora calls it: one request per
 * payment, idempotent by our payment id, whose answer comes later by webhook
 * (`POST /api/payments/callback`). `PAYMENT_PROVIDER_URL` points at a real
 * provider; by default it is the built-in simulator mounted on this server.
 */
import { Config, Context, Effect, Layer, Schema } from "effect"

export interface PaymentRequest {
  readonly paymentId: string
  readonly orderId: string
  /** Decimal string, two places. */
  readonly amount: string
  readonly currency: string
  readonly cardToken: string
}

/** The provider could not be reached or refused the request. */
export class PaymentProviderError extends Schema.TaggedError<PaymentProviderError>()("PaymentProviderError", {
  status: Schema.optional(Schema.Number),
  cause: Schema.Defect()
}) {}

export class PaymentProvider extends Context.Service<
  PaymentProvider,
  { readonly request: (payment: PaymentRequest) => Effect.Effect<void, PaymentProviderError> }
>()("@agora/app/PaymentProvider") {}

/** Over HTTP: `POST {PAYMENT_PROVIDER_URL}/payments`, the callback at `{PUBLIC_URL}/api/payments/callback`. */
export const layer = Layer.effect(
  PaymentProvider,
  Effect.gen(function* () {
    const port = yield* Config.Port("PORT").pipe(Config.withDefault(8080))
    const publicUrl = yield* Config.String("PUBLIC_URL").pipe(Config.withDefault(`http://127.0.0.1:${port}`))
    const providerUrl = yield* Config.String("PAYMENT_PROVIDER_URL").pipe(
      Config.withDefault(`${publicUrl}/sim/payment-provider`)
    )
    const callbackUrl = `${publicUrl.replace(/\/+$/, "")}/api/payments/callback`
    const request = (payment: PaymentRequest) =>
      Effect.tryPromise({
        try: async (signal) => {
          const response = await fetch(`${providerUrl.replace(/\/+$/, "")}/payments`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              payment_id: payment.paymentId,
              order_id: payment.orderId,
              amount: payment.amount,
              currency: payment.currency,
              card_token: payment.cardToken,
              callback_url: callbackUrl
            }),
            signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)])
          })
          await response.body?.cancel()
          if (!response.ok) throw new PaymentProviderError({ status: response.status, cause: response.statusText })
        },
        catch: (cause) => (cause instanceof PaymentProviderError ? cause : new PaymentProviderError({ cause }))
      })
    return PaymentProvider.of({ request })
  })
)
