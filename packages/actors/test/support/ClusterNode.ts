/**
 * One cluster node for the multi-process tests: the cluster actor runtime
 * hosting the test counter on the database `CLUSTER_NODE_DATABASE_URL`, its
 * runner on `127.0.0.1:CLUSTER_NODE_PORT`. Its control channel is JSON lines:
 * requests on stdin, answers on stdout prefixed with `@@` (the rest of stdout
 * is the cluster's log).
 *
 * Requests (each with a request id `rid`, echoed in its answer):
 * - `{ op: "send", id, by, commandId? }`: increments counter `id` through
 *   this node; answers `{ ok, version?, count?, error? }`.
 * - `{ op: "stats", ids }`: which of `ids` this node's shards hold (`owned`),
 *   its resident cells, its activations and its conflicts so far.
 */
import { createInterface } from "node:readline"
import { PgEventStore } from "@agora/eventstore"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Metric, Option, Redacted } from "effect"
import { EntityId, Sharding } from "effect/cluster"
import { ActorMetrics, ActorRuntime, ClusterActorRuntime } from "../../src/index.ts"
import { Counter, increment } from "../fixtures/Counter.ts"

const url = process.env.CLUSTER_NODE_DATABASE_URL ?? ""
const port = Number(process.env.CLUSTER_NODE_PORT)
const shards = Number(process.env.CLUSTER_NODE_SHARDS ?? "30")

const answer = (message: object) => Effect.sync(() => process.stdout.write(`@@${JSON.stringify(message)}\n`))

interface Request {
  readonly rid: number
  readonly op: "send" | "stats"
  readonly id?: string
  readonly by?: number
  readonly commandId?: string
  readonly ids?: ReadonlyArray<string>
}

const handle = (request: Request) =>
  Effect.gen(function* () {
    const runtime = yield* ActorRuntime
    const sharding = yield* Sharding.Sharding
    if (request.op === "send") {
      const context = request.commandId === undefined ? {} : { commandId: request.commandId }
      const outcome = yield* Effect.result(runtime.send(Counter, request.id ?? "", increment(request.by ?? 1), context))
      return yield* answer(
        outcome._tag === "Success"
          ? { rid: request.rid, ok: true, version: outcome.success.version, count: outcome.success.state.count }
          : { rid: request.rid, ok: false, error: outcome.failure._tag }
      )
    }
    const owned = (request.ids ?? []).filter((id) =>
      sharding.hasShardId(sharding.getShardId(EntityId.make(id), "default"))
    )
    return yield* answer({
      rid: request.rid,
      owned,
      resident: yield* runtime.residentCount,
      activations: (yield* Metric.value(ActorMetrics.activations)).count,
      conflicts: (yield* Metric.value(ActorMetrics.conflicts)).count
    })
  }).pipe(Effect.catchCause((cause) => answer({ rid: request.rid, ok: false, error: "Defect", cause: String(cause) })))

const Control = Layer.effectDiscard(
  Effect.gen(function* () {
    const context = yield* Effect.context<ActorRuntime | Sharding.Sharding>()
    const run = Effect.runForkWith(context)
    const lines = createInterface({ input: process.stdin })
    lines.on("line", (line) => {
      run(handle(JSON.parse(line) as Request))
    })
    // The test closing our stdin (or dying) ends the node.
    lines.on("close", () => process.exit(0))
    yield* answer({ ready: true })
  })
)

const Node = Control.pipe(
  Layer.provideMerge(ClusterActorRuntime.layer({ aggregates: [Counter] })),
  Layer.provideMerge(
    ClusterActorRuntime.layerSharding({
      runnerHost: "127.0.0.1",
      runnerPort: port,
      listenHost: Option.none(),
      shardsPerGroup: shards,
      shardLockExpiration: Duration.seconds(5)
    })
  ),
  Layer.provideMerge(PgEventStore.layer()),
  Layer.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 10 }))
)

Effect.runFork(
  Layer.launch(Node).pipe(
    Effect.catchCause((cause) =>
      Effect.andThen(
        Effect.logError("node failed", cause),
        Effect.sync(() => process.exit(1))
      )
    )
  )
)
