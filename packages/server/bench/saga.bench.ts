/**
 * `pnpm bench:saga [--json] [--duration=10] [--clients=16,64]`: end-to-end
 * orders per second from `POST /api/orders` (account payment) to PAID, on the
 * real server process (machine PostgreSQL, fresh database; Redis for rate
 * limits; in-process broker; shipping simulator off so PAID is where orders
 * rest), at each client count.
 *
 * Each client is its own user with a funded account and loops: place an
 * order of two demo parts, wait until it is PAID, next (a closed loop, so
 * the figures are the saga's pace, not the length of a queue). The time to PAID of an order is measured
 * from just before its POST to the commit of its `OrderPaid` event
 * (`recorded_at`, same clock), read from the event store after the run, so
 * measuring costs the server nothing. Orders still unpaid at the end count
 * as not done. Also reported: the outbox backlog after the run and the relay's
 * throughput while draining it.
 *
 * `--split [--clients=64]`: instead, the CPU each part of the run uses per
 * order, with the server split into an API process and a workers process
 * (see `splitAt`).
 */
import { readFileSync } from "node:fs"
import { parseArgs } from "@agora/testkit/load"
import { prepareClients, runClosedLoop, startServer, summarisePaid } from "./saga-load.ts"

const args = parseArgs(process.argv.slice(2))
const duration = Number(args.duration ?? 10)
const clientCounts = (args.clients ?? "16,64").split(",").map(Number)

interface Row {
  readonly clients: number
  readonly placed: number
  readonly paid: number
  readonly paidPerS: number
  readonly p50: number
  readonly p99: number
  readonly backlog: number
}

const runAt = async (clients: number): Promise<Row> => {
  // `--profile=DIR`: a CPU profile of the server, written when it stops.
  const profile = args.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${args.profile}`]
  const server = await startServer({ database: `agora_bench_saga_${clients}`, nodeArgs: profile })
  try {
    const tokens = await prepareClients(server.base, clients)
    const run = await runClosedLoop(server.base, tokens, duration)
    // Let the sagas in flight finish, then read when each order was paid.
    await new Promise((r) => setTimeout(r, 3000))
    const paid = await summarisePaid(server.databaseUrl, run, duration)
    return { clients, placed: run.placed, ...paid }
  } finally {
    await server.stop()
  }
}

/** CPU seconds (user + system) a process has used so far. */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * `--split`: where the CPU goes per order. The server runs as two processes on
 * one database, `ROLE=api` and `ROLE=workers,simulators`, with RabbitMQ between
 * them (`AMQP_URL`, default the machine's); each process's CPU time during the
 * load (from /proc) is divided by the orders placed, and so is this process's
 * (the load generator's).
 */
const splitAt = async (clients: number) => {
  const env = { AMQP_URL: process.env.AMQP_URL || "amqp://guest:guest@127.0.0.1:5672" }
  const database = `agora_bench_saga_split_${clients}`
  const api = await startServer({ database, env: { ...env, ROLE: "api" } })
  const workers = await startServer({ database, attach: true, env: { ...env, ROLE: "workers,simulators" } }).catch(
    async (error) => {
      await api.stop()
      throw error
    }
  )
  try {
    const tokens = await prepareClients(api.base, clients)
    const pids = { api: api.child.pid!, workers: workers.child.pid!, load: process.pid }
    const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]))
    const run = await runClosedLoop(api.base, tokens, duration)
    const cpu = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid) - before[name]!]))
    await new Promise((r) => setTimeout(r, 3000))
    const paid = await summarisePaid(api.databaseUrl, run, duration)
    return { clients, placed: run.placed, ...paid, cpu }
  } finally {
    await workers.stop()
    await api.stop()
  }
}

if (args.split === "true") {
  const clients = clientCounts.at(-1)!
  const r = await splitAt(clients)
  const perOrder = (seconds: number) => ((seconds * 1000) / Math.max(1, r.placed)).toFixed(1)
  console.log(`\nCPU per order, server split in two processes, ${clients} clients, ${duration} s\n`)
  console.log(
    "| orders placed | paid/s | p50 ms | p99 ms | API CPU s (ms/order) | workers CPU s (ms/order) | load CPU s (ms/order) |"
  )
  console.log("|---:|---:|---:|---:|---:|---:|---:|")
  console.log(
    `| ${r.placed} | ${Math.round(r.paidPerS)} | ${Math.round(r.p50)} | ${Math.round(r.p99)} | ` +
      `${r.cpu.api!.toFixed(2)} (${perOrder(r.cpu.api!)}) | ${r.cpu.workers!.toFixed(2)} (${perOrder(r.cpu.workers!)}) | ` +
      `${r.cpu.load!.toFixed(2)} (${perOrder(r.cpu.load!)}) |`
  )
  if (args.json === "true") {
    console.log(
      JSON.stringify({
        split: true,
        clients,
        orders_placed: r.placed,
        orders_to_paid_per_s: Math.round(r.paidPerS),
        p99_time_to_paid_ms: Math.round(r.p99),
        cpu_ms_per_order: {
          api: Number(perOrder(r.cpu.api!)),
          workers: Number(perOrder(r.cpu.workers!)),
          load: Number(perOrder(r.cpu.load!))
        }
      })
    )
  }
  process.exit(0)
}

const rows: Array<Row> = []
for (const clients of clientCounts) rows.push(await runAt(clients))

console.log(`\nOrders to PAID (account payment), ${duration} s per client count, server on this machine\n`)
console.log(
  "| clients | orders placed | paid | paid/s (in window) | p50 ms to PAID | p99 ms to PAID | outbox backlog after |"
)
console.log("|---:|---:|---:|---:|---:|---:|---:|")
for (const r of rows) {
  console.log(
    `| ${r.clients} | ${r.placed} | ${r.paid} | ${Math.round(r.paidPerS)} | ${Math.round(r.p50)} | ${Math.round(r.p99)} | ${r.backlog} |`
  )
}
const at64 = rows.find((r) => r.clients === 64) ?? rows.at(-1)!
if (args.json === "true") {
  console.log(
    JSON.stringify({
      orders_to_paid_per_s: Math.round(at64.paidPerS),
      p99_time_to_paid_ms: Math.round(at64.p99),
      p50_time_to_paid_ms: Math.round(at64.p50),
      clients: at64.clients,
      runs: rows.map((r) => ({
        clients: r.clients,
        orders_to_paid_per_s: Math.round(r.paidPerS),
        p50_ms: Math.round(r.p50),
        p99_ms: Math.round(r.p99),
        placed: r.placed,
        paid: r.paid,
        outbox_backlog: r.backlog
      }))
    })
  )
}
process.exit(0)
