/**
 * The operational HTTP routes: liveness and readiness. (A request no route
 * answers is the API edge's: a 404 or 405 problem, see `@agora/api` `Faults`.)
 *
 * Readiness reports each dependency with its latency; the process is ready only
 * when the event store answers within the check's time limit, so a load
 * balancer stops sending traffic during an outage instead of collecting 500s.
 */
import { EventStore } from "@agora/eventstore"
import { Duration, Effect, Layer, Result } from "effect"
import { HttpRouter, HttpServerResponse, ProblemDetails } from "effect/http"

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

/** The operational routes; need the event store. */
export const HttpApp = Layer.mergeAll(health, ready)
