/**
 * `pnpm seed` (scripts/seed.ts): the demo data the server also seeds on its
 * first start — the admin from configuration and the demo catalog — and the
 * demo users with their accounts (`DemoUsersSeed`; the server seeds those at
 * start only in the embedded dev start), written
 * to the database the server would use, with the same configuration and
 * development defaults. Safe to run any number of times.
 */
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { InProcessActorRuntime } from "@agora/actors"
import { Accounts, Catalog, ReadModels, Users } from "@agora/app"
import { PasswordHasher, TokenService } from "@agora/edge"
import { Lease, PgEventStore } from "@agora/eventstore"
import { ReadModelConfig } from "@agora/readmodels"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as AdminSeed from "./AdminSeed.ts"
import * as CatalogSeed from "./CatalogSeed.ts"
import * as Database from "./Database.ts"
import * as DemoUsersSeed from "./DemoUsersSeed.ts"
import * as DevDefaults from "./DevDefaults.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

const Stores = Layer.merge(PgEventStore.layer(), Lease.layer).pipe(Layer.provideMerge(Database.layer))
const Actors = InProcessActorRuntime.layer().pipe(Layer.provideMerge(Stores))
const Edge = Layer.mergeAll(PasswordHasher.layer, TokenService.layer)
// The read models the seed's writes go to (and which `Catalog.defineProduct` waits for).
const ReadModelsLive = ReadModels.layer.pipe(Layer.provideMerge(ReadModelConfig.layerFromConfig))
const App = Layer.mergeAll(Users.layer, Accounts.layer, Catalog.layer).pipe(
  Layer.provideMerge(ReadModelsLive),
  Layer.provideMerge(Actors),
  Layer.provideMerge(Edge)
)

/** Seeds, then releases everything (the projection, the pool, an embedded PostgreSQL). */
export const program = Effect.gen(function* () {
  yield* Layer.build(AdminSeed.layer)
  yield* CatalogSeed.seed
  yield* DemoUsersSeed.seed
  yield* Effect.logInfo("Seed complete")
}).pipe(Effect.scoped, Effect.provide(App), Effect.provide(DevDefaults.layer(join(repoRoot, ".data"))))

export const run = (): void => NodeRuntime.runMain(program)
