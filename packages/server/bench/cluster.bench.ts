/**
 * `pnpm bench:cluster [--json] [--duration=10] [--clients=32] [--reps=3] [--kills=10] [--probes=30] [--profile=DIR]`:
 * what sharding the actors over several nodes with Effect Cluster costs and
 * gives on this machine (issue 9), with the saga benchmark's load
 * (`saga-load.ts`: the real server as child processes, the machine's
 * PostgreSQL, account payments, the shipping simulator off so that PAID is
 * where orders rest, the in-process broker).
 *
 * 1. **Orders to PAID** (orders/s in the window and p99 time to PAID) with
 *    the in-process runtime on one node (`CLUSTER` off: the baseline), then
 *    the cluster on 1, 2 and 3 nodes of one database; the same `--clients`
 *    closed-loop clients for `--duration` seconds each, dealt out to the
 *    nodes in turn. The routing overhead is how much the cluster on one node
 *    loses against the baseline: the two one-node setups run `--reps` times,
 *    alternately, each on a fresh database, and each reports its median run
 *    (one 10-second run on this machine wanders by a third).
 * 2. **GET rps**: the same clients, each reading its own placed orders
 *    (`GET /api/orders/{id}`) back to back, for as long, on each setup.
 * 3. **Failover**, on the three nodes: `--kills` times, one node (in turn)
 *    is killed with SIGKILL while `--probes` accounts are each topped up
 *    back to back through the surviving nodes; the failover time is from the
 *    kill to the moment the last account answers a top-up sent after it
 *    (every instance served again). The node is then started again, and the
 *    next kill waits until it holds shards again.
 *
 * Every setup has a fresh database and Redis prefixes of its own, removed
 * at the end with the processes. Markdown tables on stdout; with `--json`
 * the last line is one JSON object.
 */
import { randomUUID } from "node:crypto"
import { parseArgs } from "@agora/testkit/load"
import { deleteRedisKeys, dropDatabase } from "./cleanup.ts"
import {
  freePort,
  type PaidSummary,
  percentile,
  prepareClients,
  runClosedLoop,
  type Server,
  startServer,
  summarisePaid
} from "./saga-load.ts"

const args = parseArgs(process.argv.slice(2))
const duration = Number(args.duration ?? 10)
const clients = Number(args.clients ?? 32)
const kills = Number(args.kills ?? 10)
const reps = Math.max(1, Number(args.reps ?? 3))
const probes = Math.min(Number(args.probes ?? 30), clients)
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
const runId = randomUUID().slice(0, 8)
/** `CLUSTER_SHARDS`' default. */
const totalShards = 300

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Setup {
  readonly key: string
  readonly label: string
  readonly cluster: boolean
  readonly nodes: number
}

const setups: ReadonlyArray<Setup> = [
  { key: "1node", label: "in-process runtime, 1 node", cluster: false, nodes: 1 },
  { key: "cluster_1node", label: "cluster, 1 node", cluster: true, nodes: 1 },
  { key: "cluster_2node", label: "cluster, 2 nodes", cluster: true, nodes: 2 },
  { key: "cluster_3node", label: "cluster, 3 nodes", cluster: true, nodes: 3 }
]

/** What the run leaves on the machine's services, removed at the end. */
const databases: Array<string> = []
const redisPrefixes: Array<string> = []
const running: Array<Server> = []

/** One setup's nodes on its database: the first creates it, the others join. */
const startNodes = async (setup: Setup) => {
  const database = `agora_bench_cluster_${setup.key}`
  const prefix = `agora-bench:cluster:${runId}:${setup.key}:`
  databases.push(database)
  redisPrefixes.push(prefix)
  const env = {
    READ_MODEL_PREFIX: `${prefix}rm:`,
    RATE_LIMIT_REDIS_PREFIX: `${prefix}rl:`,
    CLUSTER: setup.cluster ? "on" : "off",
    CLUSTER_RUNNER_HOST: "127.0.0.1",
    LOG_LEVEL: "error"
  }
  const node = async (attach: boolean) => {
    const server = await startServer({
      database,
      attach,
      env: { ...env, CLUSTER_RUNNER_PORT: String(await freePort()) },
      // `--profile=DIR`: a CPU profile of every node, written when it stops, under DIR/<setup>.
      nodeArgs: args.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${args.profile}/${setup.key}`]
    })
    running.push(server)
    return server
  }
  const first = await node(false)
  const others = await Promise.all(Array.from({ length: setup.nodes - 1 }, () => node(true)))
  return { nodes: [first, ...others], join: () => node(true) }
}

/** `effect_cluster_shards` of a node (undefined: it did not answer). */
const shardsOf = async (server: Server): Promise<number | undefined> => {
  const response = await fetch(`${server.base}/metrics`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined)
  if (response?.ok !== true) return undefined
  const line = (await response.text()).split("\n").find((l) => l.startsWith("effect_cluster_shards "))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
}

/** Waits until every node holds shards and together they hold them all (at most `seconds`); false if not. */
const shardsSettled = async (nodes: ReadonlyArray<Server>, seconds = 30) => {
  const deadline = performance.now() + seconds * 1000
  while (performance.now() < deadline) {
    const counts = await Promise.all(nodes.map(shardsOf))
    if (
      counts.every((n) => n !== undefined && n > 0) &&
      counts.reduce<number>((a, n) => a + (n ?? 0), 0) === totalShards
    ) {
      return true
    }
    await sleep(100)
  }
  return false
}

/** Each client's orders (its own token), as its list answers them. */
const ordersOf = (base: string, tokens: ReadonlyArray<string>) =>
  Promise.all(
    tokens.map(async (token) => {
      const response = await fetch(`${base}/api/orders?limit=100`, { headers: { authorization: `Bearer ${token}` } })
      const body = (await response.json()) as { readonly data?: ReadonlyArray<{ readonly id: string }> }
      return (body.data ?? []).map((order) => order.id)
    })
  )

interface GetSummary {
  readonly rps: number
  readonly p99: number
  readonly errors: number
}

/** The closed loop of reads: each client reads its own orders in turn, from its node, for `duration` seconds. */
const runGets = async (
  bases: ReadonlyArray<string>,
  tokens: ReadonlyArray<string>,
  orders: ReadonlyArray<ReadonlyArray<string>>
): Promise<GetSummary> => {
  const latencies: Array<number> = []
  let errors = 0
  const started = performance.now()
  const deadline = started + duration * 1000
  await Promise.all(
    tokens.map(async (token, client) => {
      const base = bases[client % bases.length]!
      const mine = orders[client] ?? []
      if (mine.length === 0) return
      for (let i = 0; performance.now() < deadline; i++) {
        const at = performance.now()
        const response = await fetch(`${base}/api/orders/${mine[i % mine.length]}`, {
          headers: { authorization: `Bearer ${token}` }
        })
        await response.arrayBuffer()
        if (response.ok) latencies.push(performance.now() - at)
        else errors++
      }
    })
  )
  latencies.sort((a, b) => a - b)
  return { rps: latencies.length / ((performance.now() - started) / 1000), p99: percentile(latencies, 99), errors }
}

interface Row {
  readonly setup: Setup
  readonly placed: number
  readonly paid: PaidSummary
  readonly gets: GetSummary
}

/** Orders to PAID, then GETs, on one setup; leaves its nodes running (for the failover) in `keep`. */
const measure = async (setup: Setup) => {
  const cluster = await startNodes(setup)
  const { nodes } = cluster
  if (setup.cluster && !(await shardsSettled(nodes))) throw new Error(`${setup.label}: the shards never settled`)
  const tokens = await prepareClients(nodes[0]!.base, clients)
  const bases = nodes.map((node) => node.base)
  const run = await runClosedLoop(bases, tokens, duration)
  // Let the sagas in flight finish, then read when each order was paid.
  await sleep(3000)
  const paid = await summarisePaid(nodes[0]!.databaseUrl, run, duration)
  const gets = await runGets(bases, tokens, await ordersOf(nodes[0]!.base, tokens))
  const row: Row = { setup, placed: run.placed, paid, gets }
  return { row, cluster, tokens }
}

/**
 * One kill: `victim` dies with SIGKILL while every probe account is topped up
 * back to back through the others; returns the time from the kill until the
 * last account's first answered top-up sent after it.
 */
const failover = async (
  victim: Server,
  survivors: ReadonlyArray<Server>,
  tokens: ReadonlyArray<string>
): Promise<number | undefined> => {
  let killedAt: number | undefined
  const recovered = new Map<number, number>()
  let stop = false
  let turn = 0
  const probe = async (token: string, account: number) => {
    while (!stop) {
      const base = survivors[turn++ % survivors.length]!.base
      const sent = performance.now()
      const ok = await fetch(`${base}/api/accounts/me/top-up`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ amount: "1.00" }),
        signal: AbortSignal.timeout(15_000)
      })
        .then(async (response) => {
          await response.arrayBuffer()
          return response.ok
        })
        .catch(() => false)
      if (ok && killedAt !== undefined && sent >= killedAt && !recovered.has(account)) {
        recovered.set(account, performance.now() - killedAt)
      }
      if (!ok) await sleep(20)
    }
  }
  const loops = tokens.map((token, account) => probe(token, account))
  // Steady first: every probe has been answered by then.
  await sleep(1_000)
  killedAt = performance.now()
  victim.child.kill("SIGKILL")
  const deadline = killedAt + 30_000
  while (recovered.size < tokens.length && performance.now() < deadline) await sleep(20)
  stop = true
  await Promise.all(loops)
  return recovered.size < tokens.length ? undefined : Math.max(...recovered.values())
}

const runs = new Map<string, Array<Row>>()
const record = (row: Row) => runs.set(row.setup.key, [...(runs.get(row.setup.key) ?? []), row])
const stopAll = () => Promise.all(running.splice(0).map((server) => server.stop().catch(() => undefined)))
const failovers: Array<number> = []
let failed = 0
try {
  // The one-node setups alternate, `reps` times each: the overhead compares their medians.
  for (let rep = 0; rep < reps; rep++) {
    for (const setup of setups.filter((s) => s.nodes === 1)) {
      record((await measure(setup)).row)
      await stopAll()
      console.error(
        `${setup.label}, run ${rep + 1}/${reps}: ${Math.round(runs.get(setup.key)!.at(-1)!.paid.paidPerS)} paid/s`
      )
    }
  }
  for (const setup of setups.filter((s) => s.nodes > 1)) {
    const { row, cluster, tokens } = await measure(setup)
    record(row)
    if (setup.nodes === 3 && kills > 0) {
      const nodes = [...cluster.nodes]
      for (let k = 0; k < kills; k++) {
        const index = k % nodes.length
        const victim = nodes[index]!
        const ms = await failover(
          victim,
          nodes.filter((node) => node !== victim),
          tokens.slice(0, probes)
        )
        if (ms === undefined) failed++
        else failovers.push(ms)
        console.error(
          `kill ${k + 1}/${kills}: failover ${ms === undefined ? "not within 30 s" : `${Math.round(ms)} ms`}`
        )
        // The node comes back, and holds shards again before the next kill.
        nodes[index] = await cluster.join()
        if (!(await shardsSettled(nodes))) throw new Error("a restarted node never got shards back")
      }
    }
    // This setup's nodes (the restarted ones too) stop before the next setup starts.
    await stopAll()
  }
} finally {
  await Promise.all(running.map((server) => server.stop().catch(() => undefined)))
  await deleteRedisKeys(redisUrl, redisPrefixes).catch((error) => console.error("Redis keys not deleted", error))
  for (const database of [...new Set(databases)]) await dropDatabase(database).catch(() => undefined)
}

/** Each setup's median run by orders to PAID per second. */
const rows: Array<Row> = setups.flatMap((setup) => {
  const sorted = [...(runs.get(setup.key) ?? [])].sort((a, b) => a.paid.paidPerS - b.paid.paidPerS)
  const median = sorted[Math.floor((sorted.length - 1) / 2)]
  return median === undefined ? [] : [median]
})
const runsText = (key: string) => (runs.get(key) ?? []).map((row) => Math.round(row.paid.paidPerS)).join(", ")

const byKey = new Map(rows.map((row) => [row.setup.key, row]))
const paidPerS = (key: string) => byKey.get(key)?.paid.paidPerS ?? Number.NaN
const overheadPct = ((paidPerS("1node") - paidPerS("cluster_1node")) / paidPerS("1node")) * 100
const sortedFailovers = [...failovers].sort((a, b) => a - b)

console.log(`\nOrders to PAID (account payment) and GETs, ${clients} clients, ${duration} s each, on this machine\n`)
console.log(
  "| setup | orders placed | paid | paid/s (in window) | p50 ms to PAID | p99 ms to PAID | GET rps | GET p99 ms |"
)
console.log("|---|---:|---:|---:|---:|---:|---:|---:|")
for (const r of rows) {
  console.log(
    `| ${r.setup.label} | ${r.placed} | ${r.paid.paid} | ${Math.round(r.paid.paidPerS)} | ${Math.round(r.paid.p50)} | ${Math.round(r.paid.p99)} | ${Math.round(r.gets.rps)} | ${r.gets.p99.toFixed(1)} |`
  )
}
console.log(
  `\nOne-node runs (paid/s): in-process ${runsText("1node")}; cluster ${runsText("cluster_1node")} (the table shows each one's median run).` +
    `\nRouting overhead of the cluster at one node (median orders to PAID per second against the in-process runtime; negative: the cluster was faster): ${overheadPct.toFixed(1)}%\n`
)
console.log(`Failover on 3 nodes (kill -9 → every one of ${probes} accounts answers a top-up again), ${kills} kills\n`)
console.log("| kills | measured | p50 ms | p99 ms | max ms |")
console.log("|---:|---:|---:|---:|---:|")
console.log(
  `| ${kills} | ${failovers.length}${failed > 0 ? ` (${failed} not within 30 s)` : ""} | ${Math.round(percentile(sortedFailovers, 50))} | ${Math.round(percentile(sortedFailovers, 99))} | ${Math.round(sortedFailovers.at(-1) ?? Number.NaN)} |`
)
if (args.json === "true") {
  const round = (n: number) => (Number.isFinite(n) ? Math.round(n) : null)
  console.log(
    JSON.stringify({
      clients,
      duration_s: duration,
      reps,
      ...Object.fromEntries(rows.map((r) => [`orders_to_paid_per_s_${r.setup.key}`, round(r.paid.paidPerS)])),
      ...Object.fromEntries(rows.map((r) => [`p99_time_to_paid_ms_${r.setup.key}`, round(r.paid.p99)])),
      routing_overhead_pct_1node: Number.isFinite(overheadPct) ? Number(overheadPct.toFixed(1)) : null,
      ...Object.fromEntries(rows.map((r) => [`get_rps_${r.setup.key}`, round(r.gets.rps)])),
      failover_p50_ms: round(percentile(sortedFailovers, 50)),
      failover_p99_ms: round(percentile(sortedFailovers, 99)),
      failover_kills: kills,
      failover_not_recovered: failed,
      failover_samples_ms: failovers.map((ms) => Math.round(ms)),
      one_node_runs_paid_per_s: Object.fromEntries(
        setups
          .filter((setup) => setup.nodes === 1)
          .map((setup) => [setup.key, (runs.get(setup.key) ?? []).map((row) => round(row.paid.paidPerS))])
      )
    })
  )
}
process.exit(0)
