/**
 * The built-in payment provider (SPEC §2, §3 Payments): HTTP routes that take
 * a card payment, answer at once with the provider's reference, and later
 * call back with a signed webhook, the way Stripe-like providers do. The
 * test token decides the outcome (`tok_ok`, `tok_decline`, `tok_timeout`,
 * `tok_slow`); see `outcomeOf`.
 *
 * Requests are idempotent by Agora's `payment_id`: a repeat gets the same
 * reference and schedules nothing. Pending callbacks are fibers in the
 * layer's scope: they are lost with the process (the saga's payment timeout
 * covers that) and interrupted when the layer closes. Callbacks go through
 * Effect's `HttpClient`; `layer` provides the fetch-based one.
 */
import { createHash } from "node:crypto"
import { Clock, Config, Duration, Effect, FiberSet, Layer, Random, type Redacted, Schema } from "effect"
import { FetchHttpClient, type HttpClient, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import {
  type CreatePayment,
  CreatePayment as CreatePaymentSchema,
  PaymentAccepted,
  PaymentCallback,
  PaymentRecord,
  type PaymentStatus
} from "./PaymentProviderContract.ts"
import * as Problem from "./Problem.ts"
import * as WebhookDelivery from "./WebhookDelivery.ts"

/** Where the server mounts the simulator by default. */
export const defaultPrefix = "/sim/payment-provider"

/** How the simulator behaves. */
export interface Settings {
  /** The webhook signing secret shared with Agora. */
  readonly secret: Redacted.Redacted
  /** How long `tok_ok`, `tok_decline` and unknown tokens take to call back. */
  readonly delay: Duration.Duration
  /** How long `tok_slow` takes to call back. */
  readonly slowDelay: Duration.Duration
  /** The probability (0..1) that a callback is delivered twice. */
  readonly duplicates: number
  /** Retry timing of the callbacks. */
  readonly timing: WebhookDelivery.Timing
}

const Probability = Schema.Finite.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 1 })))

/** The settings from `PAYMENT_PROVIDER_SECRET`, `PAYMENT_SIMULATOR_DELAY` (50 millis), `…_SLOW_DELAY` (5 seconds), `…_DUPLICATES` (0). */
export const config: Config.Config<Settings> = Config.all({
  secret: Config.Redacted("PAYMENT_PROVIDER_SECRET"),
  delay: Config.Duration("PAYMENT_SIMULATOR_DELAY").pipe(Config.withDefault(Duration.millis(50))),
  slowDelay: Config.Duration("PAYMENT_SIMULATOR_SLOW_DELAY").pipe(Config.withDefault(Duration.seconds(5))),
  duplicates: Config.schema(Probability, "PAYMENT_SIMULATOR_DUPLICATES").pipe(Config.withDefault(0)),
  timing: Config.succeed(WebhookDelivery.defaultTiming)
})

/** What a card token makes the provider do. */
export type Outcome =
  | { readonly _tag: "Succeed"; readonly after: Duration.Duration }
  | { readonly _tag: "Fail"; readonly after: Duration.Duration; readonly message: string }
  | { readonly _tag: "Never" }

/** The outcome of a payment with `token`, Stripe's test tokens style. */
export const outcomeOf = (token: string, settings: Pick<Settings, "delay" | "slowDelay">): Outcome => {
  switch (token) {
    case "tok_ok":
      return { _tag: "Succeed", after: settings.delay }
    case "tok_slow":
      return { _tag: "Succeed", after: settings.slowDelay }
    case "tok_decline":
      return { _tag: "Fail", after: settings.delay, message: "card declined" }
    case "tok_timeout":
      return { _tag: "Never" }
    default:
      return { _tag: "Fail", after: settings.delay, message: "unknown test token" }
  }
}

/** The provider's reference for Agora's payment: the same after a restart, so a retried request finds it again. */
export const referenceOf = (paymentId: string): string =>
  `pi_sim_${createHash("sha256").update(paymentId).digest("hex").slice(0, 24)}`

interface Payment {
  readonly request: CreatePayment
  readonly reference: string
  status: PaymentStatus
}

// Old records are forgotten first, so a long-running demo server stays small.
const maxRecords = 100_000

const recordOf = (payment: Payment): PaymentRecord => ({
  id: payment.reference,
  payment_id: payment.request.payment_id,
  order_id: payment.request.order_id,
  status: payment.status,
  amount: payment.request.amount
})

const sameRequest = (a: CreatePayment, b: CreatePayment) =>
  a.order_id === b.order_id && a.amount === b.amount && a.currency === b.currency && a.card_token === b.card_token

const encodeCallback = Schema.encodeSync(Schema.fromJsonString(PaymentCallback))
const decodeJson = Schema.decodeUnknownEffect(Schema.fromJsonString(Schema.Unknown))
const decodeCreate = Schema.decodeUnknownEffect(CreatePaymentSchema, { errors: "all" })
const acceptedJson = HttpServerResponse.schemaJson(PaymentAccepted)
const recordJson = HttpServerResponse.schemaJson(PaymentRecord)

/** The routes under `prefix`, with `settings`; callbacks through the `HttpClient` in context. */
export const routesWith = (
  settings: Settings,
  options: { readonly prefix?: string } = {}
): Layer.Layer<never, never, HttpRouter.HttpRouter | HttpClient.HttpClient> =>
  HttpRouter.use((router) =>
    Effect.gen(function* () {
      // Full paths, not `router.prefixed`: a prefixed route sees a copy of the request whose body was not
      // cached by the edge middleware that already read it (the NUL guard), so the body could not be read again.
      const prefix = `/${(options.prefix ?? defaultPrefix).replace(/^\/+|\/+$/g, "")}` as const
      // Both keys point at the same record: the reference and Agora's payment id.
      const byReference = new Map<string, Payment>()
      const byPaymentId = new Map<string, Payment>()
      const run = yield* FiberSet.makeRuntime<HttpClient.HttpClient>()

      const remember = (payment: Payment) => {
        if (byReference.size >= maxRecords) {
          const oldest = byReference.values().next().value
          if (oldest !== undefined) {
            byReference.delete(oldest.reference)
            byPaymentId.delete(oldest.request.payment_id)
          }
        }
        byReference.set(payment.reference, payment)
        byPaymentId.set(payment.request.payment_id, payment)
      }

      const callBack = (payment: Payment, outcome: Exclude<Outcome, { _tag: "Never" }>) =>
        Effect.gen(function* () {
          yield* Effect.sleep(outcome.after)
          payment.status = outcome._tag === "Succeed" ? "succeeded" : "failed"
          const webhook: WebhookDelivery.Webhook = {
            url: payment.request.callback_url,
            secret: settings.secret,
            body: encodeCallback({
              payment_id: payment.request.payment_id,
              order_id: payment.request.order_id,
              status: payment.status,
              amount: payment.request.amount,
              error_message: outcome._tag === "Fail" ? outcome.message : null,
              processed_at: new Date(yield* Clock.currentTimeMillis).toISOString(),
              provider_reference: payment.reference
            })
          }
          const twice = (yield* Random.next) < settings.duplicates
          yield* Effect.logInfo(`Payment simulator: ${payment.status}; calling back${twice ? " twice" : ""}`)
          const deliver = WebhookDelivery.deliver(webhook, settings.timing)
          yield* twice ? Effect.all([deliver, Effect.delay(deliver, "100 millis")], { concurrency: 2 }) : deliver
        }).pipe(Effect.annotateLogs({ payment_id: payment.request.payment_id, provider_reference: payment.reference }))

      const create = Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const text = yield* Effect.option(request.text)
        const json = text._tag === "Some" ? yield* Effect.option(decodeJson(text.value)) : text
        if (json._tag === "None") return Problem.response(400, "The request body is not valid JSON")
        const decoded = yield* Effect.result(decodeCreate(json.value))
        if (decoded._tag === "Failure") {
          return Problem.response(422, "The payment request is not valid", Problem.fieldIssues(decoded.failure))
        }
        const body = decoded.success
        const existing = byPaymentId.get(body.payment_id)
        if (existing !== undefined) {
          if (!sameRequest(existing.request, body)) {
            return Problem.response(409, `payment_id ${body.payment_id} was used for a different payment`)
          }
          return yield* acceptedJson({ id: existing.reference, status: existing.status }, { status: 200 })
        }
        const payment: Payment = { request: body, reference: referenceOf(body.payment_id), status: "pending" }
        remember(payment)
        const outcome = outcomeOf(body.card_token, settings)
        if (outcome._tag !== "Never") run(callBack(payment, outcome))
        return yield* acceptedJson({ id: payment.reference, status: "pending" }, { status: 202 })
      }).pipe(Effect.orDie)

      const read = Effect.gen(function* () {
        const id = (yield* HttpRouter.params).id ?? ""
        const payment = byReference.get(id) ?? byPaymentId.get(id)
        if (payment === undefined) return Problem.response(404, `No payment ${id}`)
        return yield* recordJson(recordOf(payment))
      }).pipe(Effect.orDie)

      yield* router.add("POST", `${prefix}/payments`, create)
      yield* router.add("GET", `${prefix}/payments/:id`, read)
    })
  )

/** The routes under `prefix`, with the settings from `config`; callbacks through `HttpClient` in context. */
export const routes = (
  options: { readonly prefix?: string } = {}
): Layer.Layer<never, Config.ConfigError, HttpRouter.HttpRouter | HttpClient.HttpClient> =>
  Layer.unwrap(
    Effect.gen(function* () {
      return routesWith(yield* config, options)
    })
  )

/** The routes under `prefix` (default `/sim/payment-provider`), configured from the environment, calling back with `fetch`. */
export const layer = (
  options: { readonly prefix?: string } = {}
): Layer.Layer<never, Config.ConfigError, HttpRouter.HttpRouter> =>
  routes(options).pipe(Layer.provide(FetchHttpClient.layer))
