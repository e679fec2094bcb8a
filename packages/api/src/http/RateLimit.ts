/**
 * Rate limiting at the edge: one token bucket per caller (`user:<id>`, or
 * `ip:<addr>` when anonymous; see `Caller`), taken before anything else is
 * done for the request. An empty bucket is a 429 problem with `Retry-After`.
 *
 * Every response carries the IETF draft headers `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the bucket is
 * full again), added as the response is sent, so that error responses made
 * further out carry them too. Liveness, readiness and metrics are exempt: a
 * probe must never be throttled into reporting an outage.
 */
import { RateLimiter } from "@agora/edge"
import { Effect } from "effect"
import { HttpEffect, HttpServerRequest, HttpServerResponse } from "effect/http"
import { Caller } from "./Caller.ts"
import * as Problem from "./Problem.ts"

/**
 * Paths never limited: probes, metrics, and the payment provider's webhook (one
 * provider address sends every callback; it is authenticated by its signature,
 * and a refused callback would only be retried).
 */
export const exemptPaths: ReadonlySet<string> = new Set([
  "/api/health",
  "/api/ready",
  "/metrics",
  "/api/payments/callback"
])
/** Prefixes never limited: the built-in simulators stand for services outside Agora. */
export const exemptPrefixes: ReadonlyArray<string> = ["/sim/"]

const pathOf = (url: string) => {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

/** The middleware, on the `RateLimiter` in context; needs `Caller`. */
export const make = Effect.gen(function* () {
  const limiter = yield* RateLimiter
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | Caller | HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const path = pathOf(request.url)
      if (exemptPaths.has(path) || exemptPrefixes.some((prefix) => path.startsWith(prefix))) return yield* app
      const caller = yield* Caller
      const decision = yield* limiter.take(caller.subject)
      if (decision._tag === "Limited") {
        return Problem.problem(429, `Too many requests; retry in ${decision.retryAfterSeconds} s`, "rate_limited", {
          headers: {
            "retry-after": String(decision.retryAfterSeconds),
            "ratelimit-limit": String(decision.limit),
            "ratelimit-remaining": "0",
            "ratelimit-reset": String(decision.retryAfterSeconds)
          }
        })
      }
      const headers = {
        "ratelimit-limit": String(decision.limit),
        "ratelimit-remaining": String(decision.remaining),
        "ratelimit-reset": String(decision.resetSeconds)
      }
      yield* HttpEffect.appendPreResponseHandler((_request, response) =>
        Effect.succeed(HttpServerResponse.setHeaders(response, headers))
      )
      return yield* app
    })
})
