/**
 * Several cluster nodes as processes on one PostgreSQL: each counter lives on
 * one node whichever node a command comes through; a node killed with SIGKILL
 * has its counters served by the others within seconds, losing no
 * acknowledged command and applying none twice; a node that joins receives
 * shards. Each node is `support/ClusterNode.ts`.
 */
import { randomUUID } from "node:crypto"
import { EventStore, PgEventStore } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import * as ClusterNodeProcess from "./support/ClusterNodeProcess.ts"
import { freePort } from "./support/FreePort.ts"

class Cluster extends Context.Service<
  Cluster,
  {
    readonly databaseUrl: string
    /** Every node started, in order, dead or alive. */
    readonly nodes: Array<ClusterNodeProcess.ClusterNodeProcess>
    readonly alive: Set<ClusterNodeProcess.ClusterNodeProcess>
    readonly startNode: () => Promise<ClusterNodeProcess.ClusterNodeProcess>
  }
>()("test/Cluster") {}

const ClusterLive = Layer.effect(
  Cluster,
  Effect.gen(function* () {
    const databaseUrl = yield* TestDatabase.create("cluster-nodes")
    const nodes: Array<ClusterNodeProcess.ClusterNodeProcess> = []
    const alive = new Set<ClusterNodeProcess.ClusterNodeProcess>()
    const startNode = async () => {
      const node = await ClusterNodeProcess.start(databaseUrl, await freePort())
      nodes.push(node)
      alive.add(node)
      return node
    }
    yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(nodes.map((node) => node.kill("SIGKILL")))))
    return Cluster.of({ databaseUrl, nodes, alive, startNode })
  })
)

/** The event store on the nodes' database (its migrations run before any node starts). */
const Store = Layer.unwrap(
  Effect.map(Cluster, ({ databaseUrl }) =>
    PgEventStore.layer().pipe(Layer.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 4 })))
  )
)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

type Owners = Map<ClusterNodeProcess.ClusterNodeProcess, ReadonlyArray<string>>

/**
 * Waits until each id is held by exactly one living node, `until` holds, and
 * nothing moved for two seconds (the nodes are asked one after another, so
 * one look during a hand-off can see a shard on its old and new owner both, or
 * neither); returns who holds what.
 */
const settled = async (
  alive: ReadonlySet<ClusterNodeProcess.ClusterNodeProcess>,
  ids: ReadonlyArray<string>,
  until: (owners: Owners) => boolean,
  seconds = 30
) => {
  const deadline = Date.now() + seconds * 1000
  let stableSince: number | undefined
  let last = ""
  while (Date.now() < deadline) {
    const owners: Owners = new Map()
    for (const node of alive) owners.set(node, (await node.stats(ids)).owned)
    const held = [...owners.values()].flat()
    const view = JSON.stringify([...owners].map(([node, owned]) => [node.port, owned]))
    if (held.length === ids.length && new Set(held).size === ids.length && until(owners)) {
      if (view !== last) stableSince = Date.now()
      if (Date.now() - (stableSince ?? Date.now()) >= 2000) return owners
    } else {
      stableSince = undefined
    }
    last = view
    await sleep(200)
  }
  throw new Error(`the shards did not settle within ${seconds}s`)
}

/**
 * Increments the counters `ids` through the living nodes, round robin, with
 * `workers` commands in flight, until stopped. Every increment is a number
 * used once, so the streams tell which commands were applied, and how often.
 */
const load = (alive: ReadonlySet<ClusterNodeProcess.ClusterNodeProcess>, ids: ReadonlyArray<string>, workers = 6) => {
  const acknowledged = new Map<number, string>()
  let sent = 0
  let failed = 0
  const errors = new Map<string, number>()
  let stopped = false
  let next = 0
  const worker = async (w: number) => {
    while (!stopped) {
      const nodes = [...alive]
      const node = nodes[(next + w) % nodes.length]
      const by = ++next
      const id = ids[by % ids.length]!
      if (node === undefined) break
      sent++
      const answer = await node.send(id, by)
      if (answer.ok) acknowledged.set(by, id)
      else {
        failed++
        errors.set(answer.error ?? "?", (errors.get(answer.error ?? "?") ?? 0) + 1)
      }
    }
  }
  const running = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)))
  return {
    stop: async () => {
      stopped = true
      await running
      return { acknowledged, sent, failed, errors: Object.fromEntries(errors) }
    }
  }
}

/** Every acknowledged increment is in its counter's stream, and no increment is there twice. */
const checkStreams = (ids: ReadonlyArray<string>, acknowledged: ReadonlyMap<number, string>) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const applied = new Map<number, string>()
    let duplicates = 0
    for (const id of ids) {
      for (const event of yield* store.readStream(`counter-${id}`)) {
        const by = (event.data as { readonly by: number }).by
        if (applied.has(by)) duplicates++
        applied.set(by, id)
      }
    }
    const lost = [...acknowledged].filter(([by, id]) => applied.get(by) !== id)
    assert.deepStrictEqual(lost, [], "acknowledged commands missing from their streams")
    assert.strictEqual(duplicates, 0, "commands applied twice")
    return { applied: applied.size }
  })

layer(Layer.provideMerge(Store, ClusterLive).pipe(Layer.orDie), { excludeTestServices: true, timeout: "120 seconds" })(
  "cluster nodes as processes",
  (it) => {
    it.effect(
      "three nodes: commands to one counter through every node all run on its one owner, without conflicts",
      () =>
        Effect.gen(function* () {
          const cluster = yield* Cluster
          yield* Effect.promise(() => Promise.all([cluster.startNode(), cluster.startNode(), cluster.startNode()]))
          const id = randomUUID()
          yield* Effect.promise(() => settled(cluster.alive, [id], () => true))
          const answers = yield* Effect.promise(() =>
            Promise.all(Array.from({ length: 60 }, (_, i) => cluster.nodes[i % 3]!.send(id, 1)))
          )
          assert.deepStrictEqual(
            answers.map((a) => a.version).sort((a, b) => (a ?? 0) - (b ?? 0)),
            Array.from({ length: 60 }, (_, i) => i + 1)
          )
          const stats = yield* Effect.promise(() => Promise.all(cluster.nodes.map((node) => node.stats([id]))))
          const owner = stats.findIndex((s) => s.owned.includes(id))
          console.log(
            "routing: per node [owned, resident, activations, conflicts]",
            JSON.stringify(stats.map((s) => [s.owned.length, s.resident, s.activations, s.conflicts]))
          )
          assert.deepStrictEqual(
            stats.map((s) => s.resident),
            stats.map((_, i) => (i === owner ? 1 : 0))
          )
          assert.deepStrictEqual(
            stats.map((s) => s.activations),
            stats.map((_, i) => (i === owner ? 1 : 0))
          )
          assert.deepStrictEqual(
            stats.map((s) => s.conflicts),
            [0, 0, 0]
          )
        })
    )

    it.effect(
      "a node killed with SIGKILL: its counters are served by the others within seconds, nothing lost or doubled",
      () =>
        Effect.gen(function* () {
          const cluster = yield* Cluster
          const ids = Array.from({ length: 60 }, () => randomUUID())
          const owners = yield* Effect.promise(() =>
            settled(cluster.alive, ids, (o) => [...o.values()].every((held) => held.length > 0))
          )
          const running = load(cluster.alive, ids)
          yield* Effect.sleep("1500 millis")
          const [victim, held] = [...owners].reduce((a, b) => (b[1].length > a[1].length ? b : a))
          const killedAt = performance.now()
          cluster.alive.delete(victim)
          yield* Effect.promise(() => victim.kill("SIGKILL"))
          // Each of its counters, asked through a survivor until it answers (one command, retried under its id).
          const survivor = [...cluster.alive][0]!
          const servedAfter = yield* Effect.promise(() =>
            Promise.all(
              held.map(async (id, i) => {
                const commandId = randomUUID()
                while ((await survivor.send(id, -(i + 1), commandId)).ok !== true) await sleep(50)
                return performance.now() - killedAt
              })
            )
          )
          const failover = Math.max(...servedAfter)
          yield* Effect.sleep("1500 millis")
          const { acknowledged, sent, failed, errors } = yield* Effect.promise(() => running.stop())
          const { applied } = yield* checkStreams(ids, acknowledged)
          console.log(
            `failover: ${held.length} counters of the killed node served again after ${Math.round(Math.min(...servedAfter))}–${Math.round(failover)} ms; load: ${sent} sent, ${acknowledged.size} acknowledged, ${failed} failed ${JSON.stringify(errors)}, ${applied} applied (each once)`
          )
          assert.isBelow(failover, 15_000)
          // Only commands sent through the killed node itself went unanswered.
          assert.deepStrictEqual(
            Object.keys(errors).filter((tag) => tag !== "NodeDown"),
            []
          )
          yield* Effect.promise(() => settled(cluster.alive, ids, (o) => [...o.values()].every((h) => h.length > 0)))
        })
    )

    it.effect("a node that joins receives shards and serves them, while commands keep coming, none applied twice", () =>
      Effect.gen(function* () {
        const cluster = yield* Cluster
        const ids = Array.from({ length: 60 }, () => randomUUID())
        yield* Effect.promise(() => settled(cluster.alive, ids, () => true))
        const running = load(cluster.alive, ids)
        yield* Effect.sleep("1000 millis")
        const joined = yield* Effect.promise(() => cluster.startNode())
        // From the moment its runtime is up to its first shard.
        const readyAt = performance.now()
        yield* Effect.promise(async () => {
          while ((await joined.stats(ids)).owned.length === 0) await sleep(50)
        })
        const receivedAfter = performance.now() - readyAt
        const owners = yield* Effect.promise(() => settled(cluster.alive, ids, (o) => (o.get(joined)?.length ?? 0) > 0))
        yield* Effect.sleep("1500 millis")
        const { acknowledged, sent, failed, errors } = yield* Effect.promise(() => running.stop())
        const { applied } = yield* checkStreams(ids, acknowledged)
        const stats = yield* Effect.promise(() => joined.stats(ids))
        console.log(
          `join: the new node held ${owners.get(joined)?.length}/${ids.length} counters; its first shard ${Math.round(receivedAfter)} ms after it was up; resident there ${stats.resident}; load: ${sent} sent, ${acknowledged.size} acknowledged, ${failed} failed, ${applied} applied (each once)`
        )
        assert.isAbove(stats.resident, 0)
        assert.deepStrictEqual([failed, errors], [0, {}])
      })
    )
  }
)
