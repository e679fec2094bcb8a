/**
 * Actors sharded over several nodes with Effect Cluster (`effect/cluster`):
 * every aggregate type is a cluster `Entity` (`agora-<type>`), an aggregate
 * instance is the entity whose id is the instance's id, so each instance has
 * one owning node at a time and a command sent on any node is routed to it.
 * The owner runs the command on its own in-process runtime (batching,
 * snapshots, optimistic concurrency and passivation stay one code path): the
 * cluster only routes. Correctness still rests on the event store's expected
 * versions, never on the routing (ADR 0003): a stale owner after a split only
 * meets conflicts.
 *
 * A command for an instance whose shard this node holds skips the cluster's
 * messaging and goes straight to the cell (`ownerShortcut`): at one node the
 * runtime then costs what the in-process one does (routing a local command
 * through the entity's mailbox halved the commands per second at 16 in
 * flight here). During a hand-off the old owner may finish a command the
 * new owner also runs: the expected versions turn that into a conflict and
 * a retry. Cells whose shard went elsewhere are dropped (at once with their
 * entity, else within a second), so an instance that comes back reloads.
 *
 * What stays on the caller: the command id of a keyed request
 * (`withKeyedCommandId`) is taken before routing, and the written position
 * (`noteWrite`) is noted from the reply. A command without an id gets a fresh
 * one here: when a node dies with a request in flight the cluster sends it
 * again to the next owner, and the id makes that second delivery append
 * nothing twice (the events' ids derive from it; their causation id is then
 * that id when the caller gave none).
 *
 * `Send` is volatile, not `ClusterSchema.Persisted`: every caller waits for
 * its reply (an HTTP request, a saga step that retries on failure), commands
 * that matter already carry ids, and the events are the durable record. A
 * persisted message would add two writes (message and reply) to every
 * command to buy a redelivery nobody waits for.
 *
 * `sendTogether` (a registration and its email claim in one transaction) runs
 * on the caller's node with its in-process runtime, not on the owners: the
 * owners' cells do not see it. Their next append meets a conflict and
 * reloads; their refusals, no-ops and reads are checked against the stream
 * first (`cellsMayBeStale`). The caller's cells of instances it does not own
 * are dropped afterwards, so they cannot go stale.
 *
 * `state` is routed to the owner; `residentCount` counts this node's cells.
 * The knobs that decide how fast a dead node's instances move: `shardingConfig`.
 */
import {
  type Aggregate,
  EmailClaim,
  Fulfilment,
  InventoryItem,
  Order,
  Payment,
  PaymentAccount,
  Shipment,
  streamId,
  User
} from "@agora/domain"
import { type EventStore, EventStoreError, type SnapshotStore, Uuid } from "@agora/eventstore"
import { NodeClusterSocket } from "@effect/platform-node"
import { Config, Duration, Effect, Layer, Option, Schedule, Schema, type Scope } from "effect"
import { Entity, EntityId, RunnerAddress, Sharding, ShardingConfig } from "effect/cluster"
import { Rpc } from "effect/rpc"
import type { SocketServer } from "effect/socket"
import type { SqlClient } from "effect/sql"
import {
  ActorRuntime,
  type CommandContext,
  type CommandOutcome,
  type CommandResult,
  ConcurrencyConflict,
  noteWrite,
  outcomeOf,
  type StateOptions,
  withKeyedCommandId
} from "./ActorRuntime.ts"
import * as InProcessActorRuntime from "./InProcessActorRuntime.ts"

// biome-ignore lint/suspicious/noExplicitAny: the runtime hosts aggregates of every type; each call is typed at `send`
type AnyAggregate = Aggregate<any, any, any, any>

/** Every aggregate of the domain: what the server hosts. */
export const domainAggregates: ReadonlyArray<AnyAggregate> = [
  Order.Order,
  PaymentAccount.PaymentAccount,
  Payment.Payment,
  Shipment.Shipment,
  InventoryItem.InventoryItem,
  User.User,
  EmailClaim.EmailClaim,
  Fulfilment.Fulfilment
]

export interface Options extends InProcessActorRuntime.Options {
  /** The aggregates this runtime hosts (default: every domain aggregate). Every node must host the same ones. */
  readonly aggregates?: ReadonlyArray<AnyAggregate>
  /**
   * A command for an instance whose shard this node holds runs on its cell
   * directly, without the cluster's messaging (default true). False sends
   * every command through the cluster (tests of the routed path).
   */
  readonly ownerShortcut?: boolean
}

/** The command context as it crosses the wire. */
const WireContext = Schema.Struct({
  commandId: Schema.optionalKey(Schema.String),
  correlationId: Schema.optionalKey(Schema.String),
  causationId: Schema.optionalKey(Schema.String),
  expectNew: Schema.optionalKey(Schema.Boolean)
})

/** The entity of an aggregate type: `Send` a command, read the `State`. */
const entityOf = (aggregate: AnyAggregate) =>
  Entity.make(`agora-${aggregate.type}`, [
    Rpc.make("Send", {
      payload: { command: aggregate.commandSchema, context: WireContext },
      success: Schema.Struct({
        events: Schema.Array(aggregate.eventSchema),
        version: Schema.Int,
        state: aggregate.stateSchema,
        position: Schema.optionalKey(Schema.Number)
      }),
      error: Schema.Union([aggregate.errorSchema, ConcurrencyConflict, EventStoreError])
    }),
    Rpc.make("SendWithoutState", {
      payload: { command: aggregate.commandSchema, context: WireContext },
      success: Schema.Struct({
        events: Schema.Array(aggregate.eventSchema),
        version: Schema.Int,
        position: Schema.optionalKey(Schema.Number)
      }),
      error: Schema.Union([aggregate.errorSchema, ConcurrencyConflict, EventStoreError])
    }),
    Rpc.make("State", {
      success: Schema.Struct({ state: aggregate.stateSchema, version: Schema.Int }),
      error: Schema.Union([ConcurrencyConflict, EventStoreError])
    })
  ])

/**
 * The cluster could not deliver the command (its owner's mailbox is full, the
 * node is shutting down, the cluster's storage failed). Callers already treat
 * an `EventStoreError` as "unavailable, try again", which is what this is.
 */
const unroutable = (aggregate: AnyAggregate) => (error: { readonly _tag: string }) =>
  Effect.fail(new EventStoreError({ operation: `route to ${aggregate.type}`, cause: error }))

const routingErrors = (aggregate: AnyAggregate) => ({
  MailboxFull: unroutable(aggregate),
  AlreadyProcessingMessage: unroutable(aggregate),
  PersistenceError: unroutable(aggregate),
  EntityNotAssignedToRunner: unroutable(aggregate)
})

/**
 * The runtime on this node's `Sharding`: registers one entity per aggregate
 * (its handler runs on this node's in-process runtime) and routes each call to
 * the instance's owner.
 */
export const make = (
  options: Options = {}
): Effect.Effect<ActorRuntime["Service"], never, EventStore | SnapshotStore | Sharding.Sharding | Scope.Scope> =>
  Effect.gen(function* () {
    // Other nodes append to the instances this node owns (`sendTogether` runs on the caller's node): a cell
    // here may be behind its stream, so a refusal or a read is checked against the stream first.
    const local = yield* InProcessActorRuntime.makeLocal({ ...options, cellsMayBeStale: true })
    const sharding = yield* Sharding.Sharding
    const maxIdleTime = options.idleTimeout ?? "5 minutes"

    const hosts = new Map<string, Host>()
    for (const aggregate of options.aggregates ?? domainAggregates) {
      const entity = entityOf(aggregate)
      yield* sharding.registerEntity(
        entity,
        Effect.gen(function* () {
          const { entityId } = yield* Entity.CurrentAddress
          // Whatever ends the entity here (idle, its shard moving away, shutdown) ends the cell:
          // if the instance comes back, it reloads instead of deciding on what it missed.
          yield* Effect.addFinalizer(() => local.evict(streamId(aggregate, entityId)))
          return entity.of({
            Send: ({ payload }) =>
              Effect.map(
                local.runtime.send(aggregate, entityId, payload.command, payload.context),
                ({ events, version, state, position }) =>
                  position === undefined ? { events, version, state } : { events, version, state, position }
              ),
            SendWithoutState: ({ payload }) =>
              Effect.map(
                local.runtime.send(aggregate, entityId, payload.command, payload.context),
                ({ events, version, position }) =>
                  position === undefined ? { events, version } : { events, version, position }
              ),
            State: () => local.runtime.state(aggregate, entityId)
          })
        }),
        // Commands run concurrently into the cell, whose mailbox batches and serialises them.
        { concurrency: "unbounded", maxIdleTime }
      )
      hosts.set(aggregate.type, yield* hostOn(sharding, aggregate, entity))
    }

    const hostOf = (aggregate: AnyAggregate): Effect.Effect<Host> => {
      const host = hosts.get(aggregate.type)
      return host === undefined
        ? Effect.die(new Error(`the cluster actor runtime does not host the aggregate "${aggregate.type}"`))
        : Effect.succeed(host)
    }

    const isOwnedHere = (host: Host, id: string) => {
      const entityId = EntityId.make(id)
      return sharding.hasShardId(sharding.getShardId(entityId, host.entity.getShardGroup(entityId)))
    }
    const shortcut = options.ownerShortcut ?? true

    // Cells of instances whose shard went elsewhere leave: coming back later, they reload.
    // (Cells the cluster's entities use leave with their entity; this catches those the shortcut made.)
    const prefixes = [...hosts.values()].map((host) => ({ host, prefix: `${host.aggregate.type}-` }))
    const ownedKey = (key: string) => {
      const match = prefixes.find(({ prefix }) => key.startsWith(prefix))
      return match === undefined || isOwnedHere(match.host, key.slice(match.prefix.length))
    }
    yield* Effect.forkScoped(local.evictWhere((key) => !ownedKey(key)).pipe(Effect.repeat(Schedule.spaced("1 second"))))

    /**
     * Where a command runs: in this node's cell when this node owns the instance (the owner shortcut), else on
     * its owner, reached through the cluster with a command id (so that a re-send after the owner died appends
     * nothing twice).
     */
    const route = (aggregate: AnyAggregate, id: string, given: CommandContext) =>
      Effect.gen(function* () {
        const host = yield* hostOf(aggregate)
        const keyed = yield* withKeyedCommandId(streamId(aggregate, id), given)
        if (shortcut && isOwnedHere(host, id)) return { here: true as const, context: keyed }
        const context = keyed.commandId === undefined ? { ...keyed, commandId: Uuid.v7() } : keyed
        return { here: false as const, client: host.client(id), context }
      })

    const send = <C, E extends { readonly _tag: string }, S, Err>(
      aggregate: Aggregate<C, E, S, Err>,
      id: string,
      command: C,
      given: CommandContext = {}
    ) =>
      Effect.gen(function* () {
        const to = yield* route(aggregate, id, given)
        if (to.here) return yield* local.runtime.send(aggregate, id, command, to.context)
        const reply = yield* to.client
          .Send({ command, context: to.context })
          .pipe(Effect.catchTags(routingErrors(aggregate)))
        const result: CommandResult<E, S> = {
          events: reply.events,
          version: reply.version,
          state: reply.state,
          position: reply.position
        }
        yield* noteWrite(result.position)
        return result
      })

    const sendWithoutState = <C, E extends { readonly _tag: string }, S, Err>(
      aggregate: Aggregate<C, E, S, Err>,
      id: string,
      command: C,
      given: CommandContext = {}
    ) =>
      Effect.gen(function* () {
        const to = yield* route(aggregate, id, given)
        if (to.here) return outcomeOf(yield* local.runtime.send(aggregate, id, command, to.context))
        const reply = yield* to.client
          .SendWithoutState({ command, context: to.context })
          .pipe(Effect.catchTags(routingErrors(aggregate)))
        const outcome: CommandOutcome<E> = { events: reply.events, version: reply.version, position: reply.position }
        yield* noteWrite(outcome.position)
        return outcome
      })

    // States read from other nodes with `acceptStale`, by stream: a later read that accepts the copy (a product's
    // name and price, set once) is answered here without a trip to the owner. Bounded: the oldest read goes first.
    const staleCopies = new Map<string, { readonly state: unknown; readonly version: number }>()
    const staleCopiesCapacity = 10_000

    const state = <C, E extends { readonly _tag: string }, S, Err>(
      aggregate: Aggregate<C, E, S, Err>,
      id: string,
      options?: StateOptions<S>
    ) =>
      Effect.flatMap(hostOf(aggregate), (host) => {
        if (shortcut && isOwnedHere(host, id)) return local.runtime.state(aggregate, id, options)
        const key = streamId(aggregate, id)
        const copy = options?.acceptStale === undefined ? undefined : staleCopies.get(key)
        if (copy !== undefined && options?.acceptStale?.(copy.state as S) === true)
          return Effect.succeed(copy as { readonly state: S; readonly version: number })
        return host
          .client(id)
          .State()
          .pipe(
            Effect.map((reply): { readonly state: S; readonly version: number } => reply),
            Effect.tap((reply) =>
              Effect.sync(() => {
                if (options?.acceptStale === undefined) return
                staleCopies.delete(key)
                staleCopies.set(key, reply)
                if (staleCopies.size > staleCopiesCapacity) staleCopies.delete(staleCopies.keys().next().value!)
              })
            ),
            Effect.catchTags(routingErrors(aggregate))
          )
      })

    const sendTogether: ActorRuntime["Service"]["sendTogether"] = (parts, context) =>
      Effect.gen(function* () {
        const hosted = yield* Effect.forEach(parts, (p) =>
          Effect.map(hostOf(p.aggregate), (host) => ({ host, id: p.id }))
        )
        const dropUnowned = Effect.forEach(
          hosted.filter(({ host, id }) => !isOwnedHere(host, id)),
          ({ host, id }) => local.evict(streamId(host.aggregate, id)),
          { discard: true }
        )
        return yield* local.runtime.sendTogether(parts, context).pipe(Effect.ensuring(dropUnowned))
      })

    return ActorRuntime.of({
      // The port's signatures give each call back its aggregate's own types.
      send: send as ActorRuntime["Service"]["send"],
      sendWithoutState: sendWithoutState as ActorRuntime["Service"]["sendWithoutState"],
      sendTogether,
      state: state as ActorRuntime["Service"]["state"],
      residentCount: local.runtime.residentCount
    })
  })

/** An aggregate with its entity and the entity's client. */
const hostOn = (sharding: Sharding.Sharding["Service"], aggregate: AnyAggregate, entity: ReturnType<typeof entityOf>) =>
  Effect.map(sharding.makeClient(entity), (client) => ({ aggregate, entity, client }))

type Host = Effect.Success<ReturnType<typeof hostOn>>

/** The runtime over the event store and snapshot store in context, on the `Sharding` in context. */
export const layer = (
  options: Options = {}
): Layer.Layer<ActorRuntime, never, EventStore | SnapshotStore | Sharding.Sharding> =>
  Layer.effect(ActorRuntime, make(options))

/** Where this node runs in the cluster, and how the cluster is cut. */
export interface NodeSettings {
  /** The address other nodes reach this one at. */
  readonly runnerHost: string
  readonly runnerPort: number
  /** The interface to listen on, when it is not `runnerHost` (e.g. `0.0.0.0` in a container). */
  readonly listenHost: Option.Option<string>
  /** Shards per shard group: the same on every node. */
  readonly shardsPerGroup: number
  /**
   * How long a node that stops refreshing keeps its shards (and the longest a
   * dead node's shards wait for another node when no health check saw it die).
   */
  readonly shardLockExpiration: Duration.Duration
}

/**
 * The sharding configuration: every field set here, so that nothing comes
 * from the cluster's own reading of the environment (it reads `HOST` and
 * `PORT`, which are the HTTP server's here).
 *
 * Failover knobs, for a node killed outright (SIGKILL: its PostgreSQL
 * sessions end, so its shard locks are free at once; what remains is noticing
 * that it is gone):
 * - `runnerHealthCheckInterval` 1 s: one node pings the others every second;
 *   a dead one fails its pings (5 tries, 500 ms apart) and is marked unhealthy.
 * - `refreshAssignmentsInterval` 1 s: every node re-reads the runners table
 *   each second and moves the dead node's shards to the living.
 * - `shardLockExpiration` (default 5 s, lock refresh every third of it): when
 *   the dead node was the one running the health checks, its heartbeat
 *   expiring is what removes it. A node stalled longer than this (GC, CPU
 *   starvation, a slow database) loses its shards and its entities stop; the
 *   shards come back on the next assignment.
 * Cost: a heartbeat and lock refresh per node every ~1.7 s, a runners read
 * per node per second, a ping per node per second.
 */
export const shardingConfig = (settings: NodeSettings): ShardingConfig.ShardingConfig["Service"] => ({
  ...ShardingConfig.defaults,
  runnerAddress: Option.some(RunnerAddress.make(settings.runnerHost, settings.runnerPort)),
  runnerListenAddress: Option.map(settings.listenHost, (host) => RunnerAddress.make(host, settings.runnerPort)),
  shardsPerGroup: settings.shardsPerGroup,
  shardLockExpiration: settings.shardLockExpiration,
  shardLockRefreshInterval: Duration.divideUnsafe(settings.shardLockExpiration, 3),
  runnerHealthCheckInterval: Duration.seconds(1),
  refreshAssignmentsInterval: Duration.seconds(1),
  // The entities are light (a handler over a cell); the in-process runtime bounds the cells.
  maxResidentEntities: "unbounded",
  // Local commands are not encoded and decoded again: the codecs run between nodes only.
  simulateRemoteSerialization: false
})

/**
 * This node's `Sharding` over PostgreSQL (runners, shard locks and the
 * cluster's message tables, `cluster_*`, in the app's database), talking to
 * the other nodes over TCP.
 */
export const layerSharding = (
  settings: NodeSettings,
  overrides: Partial<ShardingConfig.ShardingConfig["Service"]> = {}
): Layer.Layer<Sharding.Sharding, SocketServer.SocketServerError | Config.ConfigError, SqlClient.SqlClient> =>
  NodeClusterSocket.layer({ storage: "sql", shardingConfig: { ...shardingConfig(settings), ...overrides } })

/** `CLUSTER`: `on` selects this runtime (default `off`: the in-process one). */
export const enabled: Config.Config<boolean> = Config.schema(Schema.Literals(["on", "off"]), "CLUSTER").pipe(
  Config.withDefault("off" as const),
  Config.map((value) => value === "on")
)

/** `CLUSTER_RUNNER_HOST`, `CLUSTER_RUNNER_PORT`, `CLUSTER_LISTEN_HOST`, `CLUSTER_SHARDS`, `CLUSTER_SHARD_LOCK_EXPIRATION`. */
export const nodeSettings: Config.Config<NodeSettings> = Config.all({
  runnerHost: Config.String("CLUSTER_RUNNER_HOST").pipe(Config.withDefault("localhost")),
  runnerPort: Config.Port("CLUSTER_RUNNER_PORT").pipe(Config.withDefault(34431)),
  listenHost: Config.option(Config.String("CLUSTER_LISTEN_HOST")),
  shardsPerGroup: Config.Int("CLUSTER_SHARDS").pipe(Config.withDefault(300)),
  shardLockExpiration: Config.Duration("CLUSTER_SHARD_LOCK_EXPIRATION").pipe(Config.withDefault(Duration.seconds(5)))
})

/**
 * The runtime as the server configures it: the in-process runtime's settings
 * (`ACTOR_IDLE_TIMEOUT`, `ACTOR_MAX_RESIDENT`) for the cells, the node's
 * settings above for the cluster, on the app's PostgreSQL.
 */
export const layerFromConfig: Layer.Layer<
  ActorRuntime,
  Config.ConfigError | SocketServer.SocketServerError,
  EventStore | SnapshotStore | SqlClient.SqlClient
> = Layer.unwrap(
  Effect.map(Config.all({ local: InProcessActorRuntime.config, node: nodeSettings }), ({ local, node }) =>
    layer(local).pipe(Layer.provide(layerSharding(node)))
  )
)
