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
import { InProcessActorRuntime } from "@agora/actors"
import { ApiLive, ClientErrors, LiveOrderStatus } from "@agora/api"
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
import { IdempotencyStore, PasswordHasher, RateLimiter, TokenService } from "@agora/edge"
import { PgEventStore } from "@agora/eventstore"
import { ReadModelConfig } from "@agora/readmodels"
import { PaymentProviderSimulator, ShippingSimulator } from "@agora/simulators"
import { WebUi } from "@agora/web"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Option, Schedule } from "effect"
import { HttpMiddleware, HttpRouter } from "effect/http"
import * as AdminSeed from "./AdminSeed.ts"
import * as CatalogSeed from "./CatalogSeed.ts"
import * as Database from "./Database.ts"
import * as DemoUsersSeed from "./DemoUsersSeed.ts"
import * as DevDefaults from "./DevDefaults.ts"
import { HttpApp } from "./HttpApp.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

// Requests Node's parser refuses are answered as problems too (`ClientErrors`).
const HttpServerLive = NodeHttpServer.layerConfig(() => ClientErrors.install(createServer()), {
  port: Config.Port("PORT").pipe(Config.withDefault(8080)),
  host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1"))
})

// Merged: the catalog projection writes its read model on the same database.
const Stores = PgEventStore.layer().pipe(Layer.provideMerge(Database.layer))
const Actors = InProcessActorRuntime.layer().pipe(Layer.provideMerge(Stores))
const Edge = Layer.mergeAll(PasswordHasher.layer, TokenService.layer)
/** The read models: in Redis when `REDIS_URL` is set, in process otherwise; projected here unless `READ_MODELS=off`. */
const ReadModelsLive = ReadModels.layer.pipe(Layer.provideMerge(ReadModelConfig.layerFromConfig))
const App = Layer.mergeAll(
  Users.layer,
  Accounts.layer,
  Catalog.layer,
  Orders.layer,
  OrderStatusFeed.layer,
  Payments.layer,
  Shipments.layer
).pipe(Layer.provideMerge(ReadModelsLive), Layer.provideMerge(Actors), Layer.provideMerge(Edge))

/** Rate limits shared by every node through Redis when `REDIS_URL` is set, in process otherwise. */
const RateLimits = Layer.unwrap(
  Effect.gen(function* () {
    const url = yield* Config.option(Config.String("REDIS_URL"))
    if (Option.isSome(url) && url.value !== "") return RateLimiter.layerRedis
    yield* Effect.logInfo("REDIS_URL is not set: rate limits are kept in process")
    return RateLimiter.layerMemory
  })
)
// On the database from `App` (the stores are merged into it).
const EdgeStores = Layer.mergeAll(IdempotencyStore.layer(), RateLimits)

/**
 * The payment provider: a real one at `PAYMENT_PROVIDER_URL`, or the built-in
 * simulator mounted at `/sim/payment-provider` (unless `PAYMENT_SIMULATOR=off`).
 * The simulator signs callbacks to any URL it is given: it is only mounted
 * when no real provider is configured.
 */
const PaymentSimulatorRoutes = Layer.unwrap(
  Effect.gen(function* () {
    const provider = yield* Config.option(Config.String("PAYMENT_PROVIDER_URL"))
    const enabled = yield* Config.String("PAYMENT_SIMULATOR").pipe(Config.withDefault("on"))
    if ((Option.isSome(provider) && provider.value !== "") || enabled === "off") return Layer.empty
    yield* Effect.logInfo(`Payment provider: the built-in simulator at ${PaymentProviderSimulator.defaultPrefix}`)
    return PaymentProviderSimulator.layer()
  })
)

/**
 * The background work: the saga coordinator (following the event log, firing
 * payment deadlines), the outbox relay and the shipping inbox on the broker
 * (Kafka, RabbitMQ or in process, by configuration), and the built-in shipping
 * service (`SHIPPING_SIMULATOR=off` disables it).
 */
/**
 * The built-in shipping service, started in the background: with RabbitMQ or
 * Kafka down at boot its subscription fails; it is retried every 2 s instead
 * of keeping the server from starting (SPEC §8: a broker outage degrades).
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

const Workers = Layer.mergeAll(Integration.layer, ShippingService).pipe(
  Layer.provideMerge(FulfilmentSaga.layer.pipe(Layer.provide(PaymentProvider.layer))),
  Layer.provide(BrokerConfig.layerFromConfig)
)

/**
 * The router, served, with the shop's web UI at `/` (built at start-up;
 * `WEB_UI=off` leaves it out). One log line per request (`HTTP_ACCESS_LOG=true`) is off
 * by default: at tens of thousands of requests a second it costs more than
 * the requests; `/metrics` counts them by route and status instead.
 */
const Served = Layer.unwrap(
  Effect.map(Config.Boolean("HTTP_ACCESS_LOG").pipe(Config.withDefault(false)), (accessLog) =>
    HttpRouter.serve(Layer.mergeAll(ApiLive.routes, HttpApp, PaymentSimulatorRoutes, WebUi.layer), {
      disableLogger: !accessLog
    })
  )
)

/** A span per request only when traces go somewhere (`OTEL_EXPORTER_OTLP_ENDPOINT`); otherwise it is pure cost. */
const RequestSpans = Layer.unwrap(
  Effect.map(Config.option(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT")), (endpoint) =>
    Option.isSome(endpoint) && endpoint.value !== ""
      ? Layer.empty
      : Layer.succeed(HttpMiddleware.TracerDisabledWhen, () => true)
  )
)

const Main = Served.pipe(
  Layer.provide(RequestSpans),
  Layer.provide(LiveOrderStatus.redaction),
  Layer.provide(ApiLive.middleware),
  Layer.provide(EdgeStores),
  Layer.provide(HttpServerLive),
  Layer.provide(AdminSeed.layer),
  Layer.provide(DemoUsersSeed.layer),
  Layer.provide(CatalogSeed.layer),
  Layer.provide(Workers),
  Layer.provide(App),
  Layer.provide(DevDefaults.layer(join(repoRoot, ".data")))
)

Layer.launch(Main).pipe(NodeRuntime.runMain)
