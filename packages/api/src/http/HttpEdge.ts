/**
 * The HTTP edge: what every request passes through before it reaches a route,
 * as one router-wide middleware, outermost first:
 *
 * 1. `HttpMetrics` — every request timed and counted, by route and status;
 * 2. `RequestId` — every request has an id (`X-Request-Id`, given or made),
 *    answered back and written on the request's log lines;
 * 3. `Cors` — preflights and the CORS response headers;
 * 4. `Faults` — nothing fails past it: every error is a problem response,
 *    no route is a 404 or 405, a bug is a logged 500;
 * 5. `Caller` — who is calling (`user:<id>` or `ip:<addr>`);
 * 6. `RateLimit` — a token from the caller's bucket, or 429;
 * 7. `BodyLimit` — bodies over the limit are a 413, never read whole;
 * 8. `NulGuard` — a NUL character in the target or body is a 400;
 * 9. `Idempotency` — `Idempotency-Key` on POST: run once, replay after;
 * 10. `ReadYourWrites` — writes answer `X-Position`; reads with `min_position`
 *    wait (bounded) until their read model has it;
 * 11. `FastReads` — `GET /api/orders/{id}` answered here when it succeeds
 *    (anything else goes on to the route, which answers the problem).
 *
 * The order is the point: a request refused early costs little (a 429 reads
 * no body, a 413 takes no idempotency key), every answer, whoever made it,
 * carries the CORS and rate-limit headers, and every answer is measured.
 */
import type { Orders } from "@agora/app"
import type { IdempotencyStore, RateLimiter, TokenService } from "@agora/edge"
import type { Projections } from "@agora/readmodels"
import { type Config, Effect, type Layer, type Types } from "effect"
import { HttpRouter, type HttpServerRequest, type HttpServerResponse } from "effect/http"
import * as BodyLimit from "./BodyLimit.ts"
import * as Caller from "./Caller.ts"
import * as Cors from "./Cors.ts"
import * as FastReads from "./FastReads.ts"
import * as Faults from "./Faults.ts"
import * as HttpMetrics from "./HttpMetrics.ts"
import * as Idempotency from "./Idempotency.ts"
import * as NulGuard from "./NulGuard.ts"
import * as RateLimit from "./RateLimit.ts"
import * as ReadYourWrites from "./ReadYourWrites.ts"
import * as RequestId from "./RequestId.ts"
import type { RouteTable } from "./RouteTable.ts"

type Response = HttpServerResponse.HttpServerResponse

/** The whole edge as one middleware function, from config and the services it uses. */
export const make = Effect.gen(function* () {
  const metrics = yield* HttpMetrics.make
  const cors = Cors.make(yield* Cors.originsConfig)
  const faults = yield* Faults.make
  const identify = yield* Caller.make
  const rateLimit = yield* RateLimit.make
  const bodyLimit = BodyLimit.make(yield* BodyLimit.maxBodyBytesConfig)
  const idempotency = yield* Idempotency.make
  const readYourWrites = yield* ReadYourWrites.make
  const fastReads = yield* FastReads.make
  return (
    app: Effect.Effect<Response, Types.unhandled>
  ): Effect.Effect<Response, Types.unhandled, HttpServerRequest.HttpServerRequest> =>
    metrics(
      RequestId.make(
        cors(faults(identify(rateLimit(bodyLimit(NulGuard.make(idempotency(readYourWrites(fastReads(app)))))))))
      )
    )
})

/** The edge for every route of the router. */
export const layer: Layer.Layer<
  never,
  Config.ConfigError,
  HttpRouter.HttpRouter | RouteTable | RateLimiter | IdempotencyStore | TokenService | Orders.Orders | Projections
> = HttpRouter.middleware(make, { global: true })
