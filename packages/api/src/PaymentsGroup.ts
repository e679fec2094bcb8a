/**
 * Payments: the owner's (or an admin's) view of a payment, and the payment
 * provider's webhook. The webhook carries no bearer token: it is
 * authenticated by its `X-Signature` (HMAC of the raw body, see
 * `VerifyWebhook`), checked before the body is even parsed.
 */
import { Money, Payment } from "@agora/domain"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Authentication } from "./Authentication.ts"
import { NotFound, Unauthenticated, Unavailable, Unprocessable } from "./Problems.ts"
import { VerifyWebhook } from "./VerifyWebhook.ts"

export const PaymentBody = Schema.Struct({
  id: Schema.String,
  order_id: Schema.String,
  amount: Schema.String,
  status: Payment.PaymentStatus,
  method: Payment.PaymentMethod,
  failure_reason: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String
})

const short = Schema.String.pipe(Schema.check(Schema.isMaxLength(500)))

export const ProviderCallback = Schema.Struct({
  payment_id: Schema.String.pipe(Schema.check(Schema.isMaxLength(100))),
  order_id: Schema.String.pipe(Schema.check(Schema.isMaxLength(100))),
  status: Schema.Literals(["succeeded", "failed"]),
  amount: Money.MoneyFromDecimal,
  error_message: Schema.optional(Schema.NullOr(short)),
  processed_at: Schema.optional(Schema.NullOr(short)),
  provider_reference: Schema.optional(Schema.NullOr(short))
})

export const CallbackAck = Schema.Struct({
  received: Schema.Boolean,
  payment_id: Schema.String,
  status: Payment.PaymentStatus
})

export class PaymentsGroup extends HttpApiGroup.make("payments")
  .add(
    HttpApiEndpoint.get("payment", "/api/payments/:id", {
      params: { id: Schema.String },
      success: PaymentBody,
      error: [NotFound, Unavailable]
    })
  )
  .middleware(Authentication) {}

export class PaymentWebhookGroup extends HttpApiGroup.make("paymentWebhook")
  .add(
    HttpApiEndpoint.post("callback", "/api/payments/callback", {
      payload: ProviderCallback,
      success: CallbackAck,
      error: [Unauthenticated, NotFound, Unprocessable, Unavailable]
    })
  )
  .middleware(VerifyWebhook) {}
