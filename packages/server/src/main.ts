/**
 * The composition root: reads the configuration, chooses the adapters and
 * launches the server. No other module provides production layers.
 *
 * Start-up order is database, event store (migrations), then the HTTP listener,
 * so the port only opens once requests can be served; shutdown runs in reverse.
 */
import { createServer } from "node:http"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { ClusterActorRuntime, InProcessActorRuntime } from "@agora/actors"
import { ApiLive, Metrics as ApiMetrics, ClientErrors, LiveOrderStatus } from "@agora/api"
import {
  Accounts,
  Catalog,
  FulfilmentSaga,
  Integration,
  OrderStatusFeed,
  Orders,
  PaymentProvider,
  Payments,
  ReadModels,
  Shipments,
  Users
} from "@agora/app"
import { BrokerConfig } from "@agora/broker"
import { IdempotencyStore, idempotencyKeyLeaseConfig, PasswordHasher, RateLimiter, TokenService } from "@agora/edge"
import { Lease, PgEventStore } from "@agora/eventstore"
import { ReadModelConfig } from "@agora/readmodels"
import { PaymentProviderSimulator, ShippingSimulator } from "@agora/simulators"
import { WebUi } from "@agora/web"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Option, Schedule } from "effect"
import { HttpRouter } from "effect/http"
import * as AdminSeed from "./AdminSeed.ts"
import * as CatalogSeed from "./CatalogSeed.ts"
import * as Database from "./Database.ts"
import * as DemoUsersSeed from "./DemoUsersSeed.ts"
import * as DevDefaults from "./DevDefaults.ts"
import { Health, HttpApp } from "./HttpApp.ts"
import * as Observability from "./Observability.ts"
import * as Roles from "./Roles.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

// Requests Node's parser refuses are answered as problems too (`ClientErrors`).
const HttpServerLive = NodeHttpServer.layerConfig(() => ClientErrors.install(createServer()), {
  port: Config.Port("PORT").pipe(Config.withDefault(8080)),
  host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1"))
})

// Merged: the catalog projection writes its read model on the same database. The leases (one process at a time
// runs each piece of background work) are held on a session of their own there.
const Stores = Layer.merge(PgEventStore.layer(), Lease.layer).pipe(Layer.provideMerge(Database.layer))
// `CLUSTER=on`: the actors are sharded over every node on this database (Effect Cluster); off, they live here.
// The server never takes itself for the only writer of an instance (the API and the workers apart, or several nodes
// side by side, hold cells of the same instances: an account topped up by the API, debited by the saga): refusals,
// no-ops and reads are checked against the stream first (`cellsMayBeStale`; the cluster runtime always checks).
const Actors = Layer.unwrap(
  Effect.map(ClusterActorRuntime.enabled, (cluster) =>
    cluster ? ClusterActorRuntime.layerFromConfig : InProcessActorRuntime.layerFromConfig({ cellsMayBeStale: true })
  )
).pipe(Layer.provideMerge(Stores))
const Edge = Layer.mergeAll(PasswordHasher.layer, TokenService.layer)

const redisConfigured = Effect.map(
  Config.option(Config.String("REDIS_URL")),
  (url) => Option.isSome(url) && url.value !== ""
)

/**
 * Whether this process runs the projections: `READ_MODELS=on|off` when set;
 * otherwise the workers do, and so does an API whose read models are in
 * process (no `REDIS_URL`: nobody else can keep them).
 */
const runsProjections = (roles: Roles.Roles) =>
  Effect.gen(function* () {
    const explicit = yield* Config.option(Config.String("READ_MODELS"))
    if (Option.isSome(explicit) && explicit.value !== "") return explicit.value !== "off"
    return roles.has("workers") || !(yield* redisConfigured)
  })

/**
 * The read models: in Redis when `REDIS_URL` is set (shared by the processes: each projection runs under its lease,
 * in one of them at a time), in process otherwise.
 */
const readModelsLive = (run: boolean) =>
  Layer.unwrap(
    Effect.map(redisConfigured, (shared) => (run && shared ? ReadModels.layerLeased : ReadModels.layerRunning(run)))
  ).pipe(Layer.provideMerge(ReadModelConfig.layerFromConfig))

const app = (runProjections: boolean) =>
  Layer.mergeAll(
    Users.layer,
    Accounts.layer,
    Catalog.layer,
    Orders.layer,
    OrderStatusFeed.layer,
    Payments.layer,
    Shipments.layer
  ).pipe(Layer.provideMerge(readModelsLive(runProjections)), Layer.provideMerge(Actors), Layer.provideMerge(Edge))

/** Rate limits shared by every node through Redis when `REDIS_URL` is set, in process otherwise. */
const RateLimits = Layer.unwrap(
  Effect.gen(function* () {
    if (yield* redisConfigured) return RateLimiter.layerRedis
    yield* Effect.logInfo("REDIS_URL is not set: rate limits are kept in process")
    return RateLimiter.layerMemory
  })
)
// On the database from `App` (the stores are merged into it).
const EdgeStores = Layer.mergeAll(
  Layer.unwrap(Effect.map(idempotencyKeyLeaseConfig, (lease) => IdempotencyStore.layer({ lease }))),
  RateLimits
)

/**
 * The payment provider simulator, mounted at `/sim/payment-provider` in a
 * process with the `simulators` role unless `PAYMENT_SIMULATOR=off` — and,
 * where this process also runs the saga, only when no real provider is
 * configured (`PAYMENT_PROVIDER_URL`). It signs callbacks to any URL it is
 * given: it is never mounted next to a real provider.
 */
const paymentSimulatorRoutes = (roles: Roles.Roles) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const provider = yield* Config.option(Config.String("PAYMENT_PROVIDER_URL"))
      const enabled = yield* Config.String("PAYMENT_SIMULATOR").pipe(Config.withDefault("on"))
      const realProvider = roles.has("workers") && Option.isSome(provider) && provider.value !== ""
      if (!roles.has("simulators") || realProvider || enabled === "off") return Layer.empty
      yield* Effect.logInfo(`Payment provider: the built-in simulator at ${PaymentProviderSimulator.defaultPrefix}`)
      return PaymentProviderSimulator.layer()
    })
  )

/**
 * The built-in shipping service, started in the background: with RabbitMQ or
 * Kafka down at boot its subscription fails; it is retried every 2 s instead
 * of keeping the server from starting (SPEC §8: a broker outage degrades).
 * `SHIPPING_SIMULATOR=off` disables it.
 */
const ShippingService = Layer.effectDiscard(
  Effect.forkScoped(
    Effect.scoped(
      Layer.build(ShippingSimulator.layer).pipe(
        Effect.tapCause((cause) => Effect.logWarning("shipping simulator: cannot subscribe yet; retrying", cause)),
        Effect.retry(Schedule.spaced("2 seconds")),
        Effect.andThen(Effect.never)
      )
    )
  )
)

const shippingSimulator = (roles: Roles.Roles) =>
  roles.has("simulators") ? ShippingService.pipe(Layer.provide(BrokerConfig.layerFromConfig)) : Layer.empty

/**
 * The background work (`workers`): the saga coordinator (following the event
 * log, firing payment deadlines), the outbox relay and the shipping inbox on
 * the broker (Kafka, RabbitMQ or in process, by configuration). Any number of
 * processes may run it: each piece runs under a lease, in one process at a
 * time (the inbox is a consumer group the broker shares out). Without it,
 * only the outbox's trigger, so events appended here still reach the relay
 * that runs elsewhere.
 */
const background = (roles: Roles.Roles) =>
  Layer.mergeAll(
    roles.has("workers")
      ? Integration.layer.pipe(
          Layer.provideMerge(FulfilmentSaga.layer.pipe(Layer.provide(PaymentProvider.layer))),
          Layer.provide(BrokerConfig.layerFromConfig)
        )
      : Integration.schema,
    shippingSimulator(roles)
  )

/**
 * One log line per request (`HTTP_ACCESS_LOG=true`) is off by default: at tens
 * of thousands of requests a second it costs more than the requests;
 * `/metrics` counts them by route and status instead.
 */
const serve = <E, R>(routes: Layer.Layer<never, E, R>) =>
  Layer.unwrap(
    Effect.map(Config.Boolean("HTTP_ACCESS_LOG").pipe(Config.withDefault(false)), (accessLog) =>
      HttpRouter.serve(routes, { disableLogger: !accessLog })
    )
  )

/**
 * A process with the API: the router with the shop's web UI at `/` (built at
 * start-up; `WEB_UI=off` leaves it out), the seeds, and whatever background
 * work its roles add.
 */
const withApi = (roles: Roles.Roles, runProjections: boolean) =>
  serve(Layer.mergeAll(ApiLive.routes, HttpApp, paymentSimulatorRoutes(roles), WebUi.layer)).pipe(
    Layer.provide(LiveOrderStatus.redaction),
    Layer.provide(LiveOrderStatus.stopOnSignals),
    Layer.provide(ApiLive.middleware),
    Layer.provide(EdgeStores),
    Layer.provide(HttpServerLive),
    Layer.provide(AdminSeed.layer),
    Layer.provide(DemoUsersSeed.layer),
    Layer.provide(CatalogSeed.layer(runProjections)),
    Layer.provide(background(roles)),
    Layer.provide(app(runProjections))
  )

/** Workers without the API: health, readiness and metrics on `PORT` for the orchestrator. */
const withoutApi = (roles: Roles.Roles, runProjections: boolean) =>
  serve(Layer.mergeAll(HttpApp, ApiMetrics.layer, paymentSimulatorRoutes(roles))).pipe(
    Layer.provide(HttpServerLive),
    Layer.provide(background(roles)),
    Layer.provide(app(runProjections))
  )

/** The simulators alone need neither the database nor Redis. */
const simulatorsOnly = (roles: Roles.Roles) =>
  serve(Layer.mergeAll(Health, ApiMetrics.layer, paymentSimulatorRoutes(roles))).pipe(
    Layer.provide(HttpServerLive),
    Layer.provide(shippingSimulator(roles))
  )

const Main = Layer.unwrap(
  Effect.gen(function* () {
    const roles = yield* Roles.config
    yield* Effect.logInfo(`Role: ${Roles.describe(roles)}`)
    const dataDir = join(repoRoot, ".data")
    if (!roles.has("api") && !roles.has("workers")) {
      return simulatorsOnly(roles).pipe(Layer.provide(DevDefaults.layer(dataDir, "simulators")))
    }
    const runProjections = yield* runsProjections(roles)
    if (!runProjections && !(yield* redisConfigured)) {
      yield* Effect.logWarning(
        "READ_MODELS=off without REDIS_URL: the in-process read models are kept by no one; reads fall back to the event store"
      )
    }
    return (roles.has("api") ? withApi(roles, runProjections) : withoutApi(roles, runProjections)).pipe(
      Layer.provide(DevDefaults.layer(dataDir))
    )
  })
).pipe(Layer.provide(Observability.layer))

Layer.launch(Main).pipe(NodeRuntime.runMain)
