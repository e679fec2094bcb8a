/**
 * The read models the API serves, as one list of projections, and the layer
 * that answers where they are and (when this process runs them) keeps them
 * current: `READ_MODELS=off` leaves running them to another process; in a
 * store the processes share, each projection runs under a lease (one process
 * at a time).
 */
import { ClusterActorRuntime } from "@agora/actors"
import { EventStore, Lease } from "@agora/eventstore"
import { type Projection, ProjectionRunner, Projections, type ReadModelStore } from "@agora/readmodels"
import { Config, ConfigProvider, type Duration, Effect, Layer, Option } from "effect"
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
 * `PROJECTION_PARTITIONS`: in a store the processes share, each projection is
 * split by stream into this many partitions, each with its own lease and
 * checkpoint, shared out among the processes that run projections. Default 4
 * with `CLUSTER=on` (several nodes), 1 otherwise: in one process a split only
 * costs (a commit per partition per page; about a tenth of the saga load's
 * throughput in `bench:projections`).
 */
export const partitionsConfig = Config.all([
  Config.option(Config.Int("PROJECTION_PARTITIONS")),
  ClusterActorRuntime.enabled
]).pipe(
  Config.map(([given, cluster]) => Option.getOrElse(given, () => (cluster ? 4 : 1))),
  Config.mapEffect((n) =>
    n >= 1 && n <= 256
      ? Effect.succeed(n)
      : Effect.fail(
          new Config.ConfigError(new ConfigProvider.SourceError({ message: "PROJECTION_PARTITIONS must be 1 to 256" }))
        )
  )
)

/**
 * The projections' service for a store other processes share (Redis): every
 * process runs them, each (each partition, with `PROJECTION_PARTITIONS`) only
 * while it holds its lease.
 */
export const layerLeased: Layer.Layer<Projections, Config.ConfigError, ReadModelStore | EventStore | Lease.Lease> =
  Layer.unwrap(
    Effect.gen(function* () {
      const lease = yield* Lease.Lease
      const partitions = yield* partitionsConfig
      return ProjectionRunner.layer(projections, { run: true, lease, partitions })
    })
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
