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
 */
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
