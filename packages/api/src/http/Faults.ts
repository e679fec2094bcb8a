/**
 * The last word on every request: whatever happened below — a failure, a
 * defect, no route — the client gets a problem response (SPEC §8), never an
 * empty body or a stack trace.
 *
 * - no route: 404, or 405 with `Allow` when the path exists with other
 *   methods (an `OPTIONS` there is answered 204 with `Allow`);
 * - a body that could not be read: 400, or 413 when it is over the limit;
 * - any other failure or defect is a bug of ours: logged with its cause and
 *   answered 500 with no detail;
 * - an error response that is not a problem (Effect's text/plain 415, its
 *   empty 404) is rewritten into one.
 */
import { Cause, Effect, type Layer, type Types } from "effect"
import {
  HttpRouter,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
  type HttpServerResponse as HttpServerResponseType
} from "effect/http"
import * as Problem from "./Problem.ts"
import { RouteTable } from "./RouteTable.ts"

type Response = HttpServerResponseType.HttpServerResponse

/** The request error in a cause (a failure, or a defect where a body read was `orDie`d), if any. */
export const requestErrorOf = (cause: Cause.Cause<unknown>): HttpServerError.HttpServerError["reason"] | undefined => {
  for (const reason of cause.reasons) {
    const error = Cause.isFailReason(reason) ? reason.error : Cause.isDieReason(reason) ? reason.defect : undefined
    if (HttpServerError.isHttpServerError(error)) return error.reason
  }
  return undefined
}

/** 413 for a body over `maxBytes`; the connection is closed rather than the rest of the body read. */
export const payloadTooLarge = (maxBytes?: number): Response =>
  Problem.problem(
    413,
    maxBytes === undefined
      ? "The request body is too large"
      : `The request body is larger than the limit of ${maxBytes} bytes`,
    "payload_too_large",
    { headers: { connection: "close" } }
  )

const pathOf = (url: string) => {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

/** The answer when the router has no route for the request. */
export const noRoute = (routes: RouteTable["Service"], request: HttpServerRequest.HttpServerRequest): Response => {
  const match = routes.lookup(request.method, request.url)
  if (match._tag === "WrongMethod") {
    const allow = [...match.allow, "OPTIONS"].join(", ")
    if (request.method === "OPTIONS") return HttpServerResponse.empty({ status: 204, headers: { allow } })
    return Problem.problem(
      405,
      `${request.method} is not allowed on ${pathOf(request.url)}; allowed: ${allow}`,
      "method_not_allowed",
      { headers: { allow } }
    )
  }
  return Problem.problem(404, `No route for ${request.method} ${request.url}`, "route_not_found")
}

/** Turns a failed request into its problem response; logs the cause when it is a bug of ours. */
export const fromCause = (
  routes: RouteTable["Service"],
  request: HttpServerRequest.HttpServerRequest,
  cause: Cause.Cause<unknown>
): Effect.Effect<Response> => {
  const requestError = requestErrorOf(cause)
  if (requestError?._tag === "RouteNotFound") return Effect.succeed(noRoute(routes, request))
  if (requestError?._tag === "RequestParseError") {
    return Effect.succeed(
      requestError.reason === "BodyTooLarge"
        ? payloadTooLarge()
        : Problem.problem(400, "The request body could not be read", "malformed_body")
    )
  }
  return Effect.flatMap(HttpServerError.causeResponse(cause), ([response]) =>
    response.status >= 500 && !Cause.hasInterruptsOnly(cause)
      ? Effect.as(
          Effect.logError(`Unhandled failure answering ${request.method} ${pathOf(request.url)}`, cause),
          Problem.normalise(response)
        )
      : Effect.succeed(Problem.normalise(response))
  )
}

/** The middleware: nothing fails past it, and every error response is a problem. */
export const make = Effect.gen(function* () {
  const routes = yield* RouteTable
  return <E, R>(
    app: Effect.Effect<Response, E, R>
  ): Effect.Effect<Response, never, R | HttpServerRequest.HttpServerRequest> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      app.pipe(
        Effect.map(Problem.normalise),
        Effect.catchCause((cause) => fromCause(routes, request, cause))
      )
    )
})

/** This middleware alone, for every route of the router (the full edge is `HttpEdge.layer`). */
export const layer: Layer.Layer<never, never, HttpRouter.HttpRouter | RouteTable> = HttpRouter.middleware(
  Effect.map(
    make,
    (faults) =>
      (
        app: Effect.Effect<Response, Types.unhandled>
      ): Effect.Effect<Response, Types.unhandled, HttpServerRequest.HttpServerRequest> =>
        faults(app)
  ),
  { global: true }
)
