/**
 * Every request timed, by route and status: the histogram
 * `agora_http_request_duration_seconds` and the counter
 * `agora_http_requests_total`, with the attributes `method`, `route` and
 * `status` (exported by `/metrics`).
 *
 * `route` is the template the request matched (`/api/orders/:id`, from
 * `RouteTable`), never the URL, and `unmatched` for a path no route has (a
 * 404, or a 405 for a method the path does not answer), so that no client can
 * grow the number of series: there are as many as routes × methods × statuses.
 *
 * It is the outermost step of the edge, so the time covers the whole edge and
 * the status is the one the client got. A request the client gave up on
 * (interrupted) counts as 499. Each series' metric handles are made once and
 * kept: a request adds to them without building attributes or keys.
 */
import { Cause, Effect, Exit, Metric } from "effect"
import { HttpServerRequest, type HttpServerResponse } from "effect/http"
import { RouteTable } from "./RouteTable.ts"

type Response = HttpServerResponse.HttpServerResponse

/** The `route` of requests no route matched. */
export const unmatched = "unmatched"

/** The histogram's bucket boundaries, in seconds: 1 ms to 10 s. */
export const boundaries = Metric.boundariesFromIterable([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
])

const durationName = "agora_http_request_duration_seconds"
const durationDescription = "Time to answer an HTTP request, by method, route template and status"
const requestsName = "agora_http_requests_total"
const requestsDescription = "HTTP requests answered, by method, route template and status"

interface Series {
  readonly duration: Metric.Metric<number, unknown>
  readonly requests: Metric.Metric<number, unknown>
}

// Status of a request that did not produce a response (nginx's "client closed request").
const clientClosed = 499

const statusOf = (exit: Exit.Exit<Response, unknown>): number =>
  Exit.isSuccess(exit) ? exit.value.status : Cause.hasInterruptsOnly(exit.cause) ? clientClosed : 500

/** The middleware, on the `RouteTable` in context. */
export const make = Effect.gen(function* () {
  const routes = yield* RouteTable
  // One entry per (method, route, status): bounded, see the header.
  const series = new Map<string, Series>()

  const seriesOf = (method: string, route: string, status: number): Series => {
    const key = `${method} ${route} ${status}`
    let found = series.get(key)
    if (found === undefined) {
      const attributes = { method, route, status: String(status) }
      found = {
        duration: Metric.histogram(durationName, { description: durationDescription, boundaries, attributes }),
        requests: Metric.counter(requestsName, { description: requestsDescription, incremental: true, attributes })
      }
      series.set(key, found)
    }
    return found
  }

  const routeOf = (request: HttpServerRequest.HttpServerRequest): string => {
    const match = routes.lookup(request.method, request.url)
    return match._tag === "Found" ? match.template : unmatched
  }

  return <E, R>(
    app: Effect.Effect<Response, E, R>
  ): Effect.Effect<Response, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.clockWith((clock) => {
        const start = clock.monotonicTimeNanosUnsafe()
        return Effect.onExit(app, (exit) =>
          // The updates need the context only for its metric registry: one step, no effect per metric.
          Effect.contextWith((context) => {
            const seconds = Number(clock.monotonicTimeNanosUnsafe() - start) / 1e9
            const { duration, requests } = seriesOf(request.method, routeOf(request), statusOf(exit))
            duration.updateUnsafe(seconds, context)
            requests.updateUnsafe(1, context)
            return Effect.void
          })
        )
      })
    )
})
