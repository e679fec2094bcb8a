/**
 * The wire contract of the simulated payment provider, shared by the
 * simulator, its tests and anyone who calls it: the payment request, the
 * provider's answers, and the webhook it sends back. Field names are
 * snake_case like the rest of the API; money is a decimal string with two
 * places, echoed back unchanged so the receiver can compare it byte for byte.
 */
import { Schema } from "effect"

const Id = Schema.NonEmptyString.pipe(Schema.check(Schema.isMaxLength(255)))

/** A decimal amount with exactly two places, e.g. `"12.34"`. */
export const Amount = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^(0|[1-9][0-9]{0,15})\.[0-9]{2}$/, { expected: 'a decimal string like "12.34"' }))
)

/** An ISO 4217 code, e.g. `RUB`. */
export const Currency = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[A-Z]{3}$/, { expected: "a three-letter currency code" }))
)

/** Where the webhook goes: an absolute http(s) URL. */
export const CallbackUrl = Schema.String.pipe(
  Schema.check(
    Schema.makeFilter((url: string) => /^https?:$/.test(URL.parse(url)?.protocol ?? ""), {
      expected: "an absolute http or https URL"
    })
  )
)

/** `POST {prefix}/payments`: Agora asks for a card payment. */
export const CreatePayment = Schema.Struct({
  /** Agora's payment id: the idempotency key of the request. */
  payment_id: Id,
  order_id: Id,
  amount: Amount,
  currency: Currency,
  /** A test token: `tok_ok`, `tok_decline`, `tok_timeout`, `tok_slow`. */
  card_token: Id,
  callback_url: CallbackUrl
})
export type CreatePayment = typeof CreatePayment.Type

/** Where a payment stands at the provider. */
export const PaymentStatus = Schema.Literals(["pending", "succeeded", "failed"])
export type PaymentStatus = typeof PaymentStatus.Type

/** The answer to `POST {prefix}/payments`: the provider's reference. */
export const PaymentAccepted = Schema.Struct({ id: Schema.String, status: PaymentStatus })
export type PaymentAccepted = typeof PaymentAccepted.Type

/** `GET {prefix}/payments/{id}`: the provider's record. */
export const PaymentRecord = Schema.Struct({
  id: Schema.String,
  payment_id: Schema.String,
  order_id: Schema.String,
  status: PaymentStatus,
  amount: Schema.String
})
export type PaymentRecord = typeof PaymentRecord.Type

/** The webhook body, `POST callback_url`, signed in the `X-Signature` header. */
export const PaymentCallback = Schema.Struct({
  payment_id: Schema.String,
  order_id: Schema.String,
  status: Schema.Literals(["succeeded", "failed"]),
  amount: Schema.String,
  error_message: Schema.NullOr(Schema.String),
  /** ISO 8601, UTC. */
  processed_at: Schema.String,
  provider_reference: Schema.String
})
export type PaymentCallback = typeof PaymentCallback.Type
