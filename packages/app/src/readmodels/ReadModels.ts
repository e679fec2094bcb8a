/**
 * The read models the API serves, as one list of projections, and the layer
 * that answers where they are and (when this process runs them) keeps them
 * current: `READ_MODELS=off` leaves running them to another process; in a
 * store the processes share, each projection runs under a lease (one process
 * at a time).
 */
import { EventStore, Lease } from "@agora/eventstore"
import { type Projection, ProjectionRunner, Projections, type ReadModelStore } from "@agora/readmodels"
import { Config, type Duration, Effect, Layer } from "effect"
import * as AccountViews from "./AccountViews.ts"
import * as CatalogViews from "./CatalogViews.ts"
import * as OrderViews from "./OrderViews.ts"

export const projections: ReadonlyArray<Projection> = [
  OrderViews.projection,
  AccountViews.projection,
  CatalogViews.projection
]

/** The projections' service, running them in this process or only reading where they are. */
export const layerRunning = (run: boolean): Layer.Layer<Projections, never, ReadModelStore | EventStore> =>
  ProjectionRunner.layer(projections, { run })

/**
 * The projections' service for a store other processes share (Redis): every
 * process runs them, each only while it holds the projection's lease.
 */
export const layerLeased: Layer.Layer<Projections, never, ReadModelStore | EventStore | Lease.Lease> = Layer.unwrap(
  Effect.map(Lease.Lease, (lease) => ProjectionRunner.layer(projections, { run: true, lease }))
)

/** The projections' service; runs them here unless `READ_MODELS=off`. */
export const layer: Layer.Layer<Projections, never, ReadModelStore | EventStore> = Layer.unwrap(
  Effect.map(
    Config.String("READ_MODELS").pipe(
      Config.withDefault("on"),
      Effect.orElseSucceed(() => "on")
    ),
    (mode) => layerRunning(mode !== "off")
  )
)

/**
 * Waits until every read model has applied every event committed before the
 * call (at most `timeout`); false when one has not. For tests and scripts that
 * need to read what was written before them, whoever wrote it.
 */
export const awaitCaughtUp = (timeout: Duration.Input = "10 seconds") =>
  Effect.gen(function* () {
    const head = yield* (yield* EventStore).headPosition
    const service = yield* Projections
    const reached = yield* Effect.forEach(projections, (projection) =>
      service.awaitPosition(projection.name, head, timeout)
    )
    return reached.every(Boolean)
  })
