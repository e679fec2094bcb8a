/**
 * Authenticates the payment provider's webhook: the `X-Signature` header
 * must be a valid, fresh (± 5 min) HMAC-SHA256 of the raw body under
 * `PAYMENT_PROVIDER_SECRET` (see `@agora/edge` `WebhookSignature`). Checked
 * before the body is decoded, so an unsigned request learns nothing about the
 * payload's shape: every refusal is the same 401.
 */
import { WebhookSignature } from "@agora/edge"
import { Config, Effect, Layer, Redacted } from "effect"
import { HttpServerRequest } from "effect/http"
import { HttpApiMiddleware } from "effect/http-api"
import { Unauthenticated } from "./Problems.ts"

export class VerifyWebhook extends HttpApiMiddleware.Service<VerifyWebhook>()("@agora/api/VerifyWebhook", {
  error: Unauthenticated
}) {}

/** The webhook secret shared with the payment provider. */
export const secretConfig = Config.Redacted("PAYMENT_PROVIDER_SECRET")

const refused = new Unauthenticated({
  detail: "The X-Signature header is missing, stale or does not match the body",
  code: "invalid_signature"
})

export const layer = Layer.effect(
  VerifyWebhook,
  Effect.gen(function* () {
    const secret = Redacted.value(yield* secretConfig)
    return VerifyWebhook.of((handler) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const body = yield* request.text.pipe(Effect.orElseSucceed(() => undefined))
        if (body === undefined) return yield* refused
        const verdict = WebhookSignature.verify(secret, body, request.headers["x-signature"])
        if (verdict._tag === "Invalid") {
          yield* Effect.logWarning(`Payment webhook refused: signature ${verdict.reason}`)
          return yield* refused
        }
        return yield* handler
      })
    )
  })
)
