/**
 * Every request has an id: the client's `X-Request-Id` when it is a sane token
 * (1 to 128 letters, digits and `-_.:+/=`), one made here otherwise (this
 * process's random prefix and a counter: unique without costing a UUID per
 * request). It is echoed in the response's `X-Request-Id`, and the server's
 * JSON logger writes it as `request_id` on each line the request logs, with
 * the order id as `correlation_id` when the request is about one
 * (`/api/orders/{id}…`).
 *
 * The id is kept on the request object itself (under a symbol, as Effect's
 * HTTP server marks its requests), not in the fiber's context as a log
 * annotation: that would cost every request a context update whether it logs
 * or not, and most requests log nothing. The logger reads it when it writes a
 * line (`logFields`).
 */
import { randomBytes } from "node:crypto"
import { Context, Effect } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"

type Request = HttpServerRequest.HttpServerRequest
type Response = HttpServerResponse.HttpServerResponse

/** The request and response header. */
export const header = "x-request-id"

const sane = /^[A-Za-z0-9\-_.:+/=]{1,128}$/

const idKey = Symbol.for("@agora/api/RequestId")
type Identified = Request & { [idKey]?: string }

// 48 random bits per process, then a count: ids do not repeat across processes and restarts (but by chance).
const processPrefix = randomBytes(6).toString("hex")
let made = 0
const makeId = (): string => `${processPrefix}-${(++made).toString(36)}`

/** The id the client sent, if it is one we keep. */
const given = (request: Request): string | undefined => {
  const value = request.headers[header]
  return value !== undefined && sane.test(value) ? value : undefined
}

/** The middleware: gives the request its id and answers it in the response. */
export const make = <E, R>(app: Effect.Effect<Response, E, R>): Effect.Effect<Response, E, R | Request> =>
  // One step for the lookup (not `flatMap` over the service): this runs on every request.
  Effect.withFiber((fiber) => {
    const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
    const id = given(request) ?? makeId()
    ;(request as Identified)[idKey] = id
    return Effect.map(app, (response) => HttpServerResponse.setHeader(response, header, id))
  })

/** The id of a request that went through the middleware (or carries a sane one of its own). */
export const of = (request: Request): string | undefined => (request as Identified)[idKey] ?? given(request)

const uuid = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
const orderPath = new RegExp(`^/api/(?:ws/)?orders/(${uuid})(?:[/?#]|$)`)

/** The order a request is about, from its path (`/api/orders/{id}…`, `/api/ws/orders/{id}`). */
export const orderOf = (request: Request): string | undefined => orderPath.exec(request.url)?.[1]

/**
 * What a log line written in `context` says about its request, if it is
 * written while one is handled: its id and, for a request about an order,
 * that order's id as the correlation id.
 */
export const logFields = (
  context: Context.Context<never>
): { readonly request_id?: string; readonly correlation_id?: string } | undefined => {
  const request = Context.getOrUndefined(context, HttpServerRequest.HttpServerRequest)
  if (request === undefined) return undefined
  const id = of(request)
  const order = orderOf(request)
  return {
    ...(id === undefined ? {} : { request_id: id }),
    ...(order === undefined ? {} : { correlation_id: order })
  }
}
