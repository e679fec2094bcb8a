/**
 * The operational HTTP routes: liveness and readiness. (A request no route
 * answers is the API edge's: a 404 or 405 problem, see `@agora/api` `Faults`.)
 *
 * Readiness reports each dependency with its latency; the process is ready only
 * when the event store answers within the check's time limit, so a load
 * balancer stops sending traffic during an outage instead of collecting 500s.
 * It also reports the read models: the store, and per projection its
 * generation, position, how many events it is behind the log, its last error
 * and the events it parked (a store outage is `degraded`, still 200: reads
 * then answer from the event store). And the leases this process competes
 * for, each with whether it holds it here (which node runs which background
 * work): information only, never a reason to be unready.
 */
import { EventStore, Lease } from "@agora/eventstore"
import { ProjectionRunner, Projections, ReadModelStore } from "@agora/readmodels"
import { Duration, Effect, Layer, Option, Result } from "effect"
import { HttpRouter, HttpServerResponse, ProblemDetails } from "effect/http"

/** How long the readiness check waits for the event store. */
export const readinessTimeout = "2 seconds"

/** Liveness alone, for a process that serves no API (`ROLE=simulators`). */
export const Health = HttpRouter.add("GET", "/api/health", HttpServerResponse.jsonUnsafe({ status: "ok" }))

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

/** Each projection: where it is, how far behind the log, what it parked; the store's state. Never fails readiness. */
const checkReadModels = (head: number | undefined) =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const projections = yield* Projections
    const [elapsed, ping] = yield* store.ping.pipe(Effect.timeout(readinessTimeout), Effect.result, Effect.timed)
    const latency_ms = Math.round(Duration.toMillis(elapsed) * 100) / 100
    const up = Result.isSuccess(ping)
    const statuses = yield* projections.status
    const details = yield* Effect.forEach(statuses, (status) =>
      Effect.gen(function* () {
        const parked = up
          ? yield* store
              .indexRange({ projection: status.name }, ProjectionRunner.parkedIndex, { order: "desc", limit: 10 })
              .pipe(
                Effect.map((entries) => entries.map((entry) => JSON.parse(entry.member) as unknown)),
                Effect.orElseSucceed(() => [])
              )
          : []
        const position = up
          ? yield* projections.position(status.name).pipe(Effect.orElseSucceed(() => status.position))
          : status.position
        return [
          status.name,
          {
            running_here: status.running,
            partitions: status.partitions,
            partitions_here: status.partitionsHere,
            generation: status.generation ?? null,
            position,
            behind_events: head === undefined ? null : Math.max(0, head - position),
            last_error: status.lastError ?? null,
            parked
          }
        ] as const
      })
    )
    return {
      status: up ? ("up" as const) : ("down" as const),
      latency_ms,
      ...(up ? {} : { detail: "The read-model store is unreachable: reads answer from the event store" }),
      projections: Object.fromEntries(details)
    }
  })

/** The leases of this process, by name: held here or elsewhere (or nowhere), and since when. */
const leases = Effect.gen(function* () {
  const lease = yield* Effect.serviceOption(Lease.Lease)
  if (Option.isNone(lease)) return {}
  const statuses = yield* lease.value.status
  return {
    leases: Object.fromEntries(
      statuses.map((status) => [status.name, { held_here: status.held, since: status.since?.toISOString() ?? null }])
    )
  }
})

const ready = HttpRouter.add(
  "GET",
  "/api/ready",
  Effect.gen(function* () {
    const eventStore = yield* checkEventStore
    if (eventStore.status === "up") {
      const head = yield* Effect.flatMap(Effect.service(EventStore), (store) => store.headPosition).pipe(
        Effect.orElseSucceed(() => undefined)
      )
      const readModels = yield* checkReadModels(head)
      return HttpServerResponse.jsonUnsafe({
        // A read-model store outage degrades reads (they fold the event store); it does not make the node unready.
        status: readModels.status === "up" ? "ready" : "degraded",
        checks: { event_store: eventStore, read_models: readModels },
        ...(yield* leases)
      })
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
export const HttpApp = Layer.mergeAll(Health, ready)
