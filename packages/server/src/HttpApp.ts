/**
 * The HTTP routes of this stage: liveness, readiness and the problem response
 * for every unknown route.
 *
 * Readiness reports each dependency with its latency; the process is ready only
 * when the event store answers within the check's time limit, so a load
 * balancer stops sending traffic during an outage instead of collecting 500s.
 */
import { EventStore } from "@agora/eventstore"
import { Duration, Effect, Layer, Result } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse, ProblemDetails } from "effect/http"

/** How long the readiness check waits for the event store. */
export const readinessTimeout = "2 seconds"

const health = HttpRouter.add("GET", "/api/health", HttpServerResponse.jsonUnsafe({ status: "ok" }))

const checkEventStore = Effect.gen(function* () {
  const store = yield* EventStore
  const [elapsed, outcome] = yield* store.ping.pipe(Effect.timeout(readinessTimeout), Effect.result, Effect.timed)
  const latency_ms = Math.round(Duration.toMillis(elapsed) * 100) / 100
  if (Result.isSuccess(outcome)) return { status: "up" as const, latency_ms }
  // The cause goes to the log, not to the response: readiness is served to anyone.
  yield* Effect.logWarning("Readiness: the event store is down", outcome.failure)
  const detail =
    outcome.failure._tag === "TimeoutError"
      ? `The event store did not answer within ${readinessTimeout}`
      : "The event store is unreachable"
  return { status: "down" as const, latency_ms, detail }
})

const ready = HttpRouter.add(
  "GET",
  "/api/ready",
  Effect.gen(function* () {
    const eventStore = yield* checkEventStore
    if (eventStore.status === "up") {
      return HttpServerResponse.jsonUnsafe({ status: "ready", checks: { event_store: eventStore } })
    }
    return ProblemDetails.toResponse({
      type: "about:blank",
      title: "Service Unavailable",
      status: 503,
      detail: eventStore.detail,
      checks: { event_store: { status: eventStore.status, latency_ms: eventStore.latency_ms } }
    })
  })
)

const notFound = HttpRouter.add(
  "*",
  "*",
  Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
    ProblemDetails.toResponse({
      type: "about:blank",
      title: "Not Found",
      status: 404,
      detail: `No route for ${request.method} ${request.url}`
    })
  )
)

/** Every route of the server; needs the event store. */
export const HttpApp = Layer.mergeAll(health, ready, notFound)
