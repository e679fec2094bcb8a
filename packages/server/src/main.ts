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
import { ApiLive } from "@agora/api"
import { Accounts, Users } from "@agora/app"
import { PasswordHasher, TokenService } from "@agora/edge"
import { PgEventStore } from "@agora/eventstore"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import { HttpRouter } from "effect/http"
import * as AdminSeed from "./AdminSeed.ts"
import * as DevDefaults from "./DevDefaults.ts"
import { EmbeddedPostgres } from "./EmbeddedPostgres.ts"
import { HttpApp } from "./HttpApp.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

/** The development default: a PostgreSQL of our own, its data kept in `.data/pg`. */
const EmbeddedDatabase = Layer.unwrap(
  Effect.gen(function* () {
    const port = yield* Config.Port("EMBEDDED_PG_PORT").pipe(Config.withDefault(54329))
    const dataDir = yield* Config.String("EMBEDDED_PG_DIR").pipe(Config.withDefault(join(repoRoot, ".data", "pg")))
    yield* Effect.logWarning(
      `DATABASE_URL is not set: running with EMBEDDED DEVELOPMENT DEFAULTS (PostgreSQL on 127.0.0.1:${port}, data in ${dataDir}). Set DATABASE_URL for anything else.`
    )
    const client = Layer.unwrap(
      Effect.gen(function* () {
        const { url } = yield* EmbeddedPostgres
        return PgClient.layer({ url })
      })
    )
    return client.pipe(Layer.provide(EmbeddedPostgres.layer({ dataDir, port, database: "agora" })))
  })
)

const Database = Layer.unwrap(
  Effect.gen(function* () {
    const url = yield* Config.option(Config.Redacted("DATABASE_URL"))
    if (Option.isNone(url) || Redacted.value(url.value) === "") return EmbeddedDatabase
    // Where, never who: the URL's credentials stay out of the log.
    const where = URL.parse(Redacted.value(url.value))
    yield* Effect.logInfo(`Database: ${where ? `${where.host}${where.pathname}` : "DATABASE_URL (not a URL?)"}`)
    return PgClient.layer({ url: url.value })
  })
)

const HttpServerLive = NodeHttpServer.layerConfig(createServer, {
  port: Config.Port("PORT").pipe(Config.withDefault(8080)),
  host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1"))
})

const Stores = PgEventStore.layer().pipe(Layer.provide(Database))
const Actors = InProcessActorRuntime.layer().pipe(Layer.provideMerge(Stores))
const Edge = Layer.mergeAll(PasswordHasher.layer, TokenService.layer)
const App = Layer.mergeAll(Users.layer, Accounts.layer).pipe(Layer.provideMerge(Actors), Layer.provideMerge(Edge))

const Main = HttpRouter.serve(Layer.mergeAll(ApiLive.routes, HttpApp)).pipe(
  Layer.provide(ApiLive.middleware),
  Layer.provide(HttpServerLive),
  Layer.provide(AdminSeed.layer),
  Layer.provide(App),
  Layer.provide(DevDefaults.layer(join(repoRoot, ".data")))
)

Layer.launch(Main).pipe(NodeRuntime.runMain)
