/**
 * Names each request's server span (`HttpMiddleware.tracer`) after the route
 * it matched — `POST /api/orders`, `GET /api/orders/:id` — as OpenTelemetry's
 * HTTP conventions ask, instead of the bare method. A path no route has keeps
 * the method alone: a span name must not carry a URL a client made up.
 */
import { Layer } from "effect"
import { HttpMiddleware } from "effect/http"
import type { RouteTable } from "./RouteTable.ts"

/** The span name generator over `routes`, as a layer for the server's context. */
export const layer = (routes: RouteTable["Service"]): Layer.Layer<never> =>
  Layer.succeed(HttpMiddleware.SpanNameGenerator, (request) => {
    const match = routes.lookup(request.method, request.url)
    return match._tag === "Found" ? `${request.method} ${match.template}` : request.method
  })
