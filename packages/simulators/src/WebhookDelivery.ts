/**
 * Delivers one signed webhook until the receiver acknowledges it, the way
 * real providers do: each attempt is signed afresh (`X-Signature`, see
 * `@agora/edge` `WebhookSignature`), so a retry minutes later is not refused
 * as stale. Network errors, timeouts, 5xx, 408, 409 and 429 are retried with
 * jittered exponential backoff capped at a few seconds, for as long as the
 * caller's fiber lives; any other 4xx is the receiver saying "never" (a bad
 * signature, an amount mismatch), so delivery stops there with a warning.
 */
import { WebhookSignature } from "@agora/edge"
import { Clock, type Duration, Effect, Redacted, Schedule, Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"

/** A webhook to deliver. */
export interface Webhook {
  readonly url: string
  /** The JSON text, sent and signed byte for byte. */
  readonly body: string
  readonly secret: Redacted.Redacted
}

/** Timing of the attempts. */
export interface Timing {
  /** The first retry's delay; each later one doubles, plus jitter. */
  readonly firstRetry: Duration.Input
  /** No retry waits longer than this. */
  readonly maxRetry: Duration.Input
  /** How long one attempt may take before it counts as failed. */
  readonly attemptTimeout: Duration.Input
}

/** 100 ms, doubling up to 5 s between attempts; 10 s per attempt. */
export const defaultTiming: Timing = { firstRetry: "100 millis", maxRetry: "5 seconds", attemptTimeout: "10 seconds" }

/** Whether an answer with this status is worth another attempt. */
export const isRetryable = (status: number): boolean =>
  status >= 500 || status === 408 || status === 409 || status === 429

/** An attempt that may succeed if repeated. */
class AttemptFailed extends Schema.TaggedError<AttemptFailed>()("AttemptFailed", { reason: Schema.String }) {}

/** The receiver refused the webhook for good. */
class Refused extends Schema.TaggedError<Refused>()("Refused", { reason: Schema.String }) {}

const attempt = Effect.fn("WebhookDelivery.attempt")(function* (webhook: Webhook, timing: Timing) {
  const client = yield* HttpClient.HttpClient
  const now = yield* Clock.currentTimeMillis
  const request = HttpClientRequest.post(webhook.url).pipe(
    HttpClientRequest.setHeader(
      "x-signature",
      WebhookSignature.sign(Redacted.value(webhook.secret), webhook.body, Math.floor(now / 1000))
    ),
    HttpClientRequest.bodyText(webhook.body, "application/json")
  )
  const status = yield* client.execute(request).pipe(
    // The body is drained so the connection can be reused; what it says does not matter.
    Effect.flatMap((response) => Effect.as(Effect.ignore(response.text), response.status)),
    Effect.scoped,
    Effect.catchTag(
      "HttpClientError",
      (error): Effect.Effect<never, AttemptFailed | Refused> =>
        error.reason._tag === "InvalidUrlError"
          ? Effect.fail(new Refused({ reason: error.message }))
          : Effect.fail(new AttemptFailed({ reason: error.message }))
    ),
    Effect.timeoutOrElse({
      duration: timing.attemptTimeout,
      orElse: () => Effect.fail(new AttemptFailed({ reason: "no answer in time" }))
    })
  )
  if (status >= 200 && status < 300) return
  return yield* isRetryable(status)
    ? new AttemptFailed({ reason: `answered ${status}` })
    : new Refused({ reason: `answered ${status}` })
})

/**
 * Delivers `webhook`, retrying until it is acknowledged (`true`) or refused
 * (`false`, logged as a warning). Never fails; interrupt the fiber to give up.
 */
export const deliver = (
  webhook: Webhook,
  timing: Timing = defaultTiming
): Effect.Effect<boolean, never, HttpClient.HttpClient> =>
  attempt(webhook, timing).pipe(
    Effect.tapError((error) =>
      error._tag === "AttemptFailed"
        ? Effect.logDebug(`Webhook to ${webhook.url} ${error.reason}; retrying`)
        : Effect.void
    ),
    Effect.retry({
      schedule: Schedule.min([Schedule.exponential(timing.firstRetry), Schedule.spaced(timing.maxRetry)]).pipe(
        Schedule.jittered
      ),
      while: (error) => error._tag === "AttemptFailed"
    }),
    Effect.as(true),
    Effect.catch((error) =>
      Effect.as(Effect.logWarning(`Webhook to ${webhook.url} refused (${error.reason}); not retried`), false)
    )
  )
