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
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import * as BenchDatabase from "@agora/testkit/bench-database"
import { parseArgs } from "@agora/testkit/load"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"

const args = parseArgs(process.argv.slice(2))
const duration = Number(args.duration ?? 10)
const clientCounts = (args.clients ?? "16,64").split(",").map(Number)
const mainTs = fileURLToPath(new URL("../src/main.ts", import.meta.url))

const freePort = async () => {
  const server = createServer().listen(0, "127.0.0.1")
  await once(server, "listening")
  const address = server.address()
  server.close()
  if (address === null || typeof address === "string") throw new Error("no port")
  return address.port
}

const post = async (url: string, body: unknown, token?: string) => {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    },
    body: JSON.stringify(body)
  })
  const json = (await response.json()) as Record<string, unknown>
  if (!response.ok) throw new Error(`${url}: ${response.status} ${JSON.stringify(json)}`)
  return json
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

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
  const databaseUrl = await BenchDatabase.fresh(`agora_bench_saga_${clients}`)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  // `--profile=DIR`: a CPU profile of the server, written when it stops.
  const profile = args.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${args.profile}`]
  const child: ChildProcess = spawn(process.execPath, [...profile, mainTs], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      RATE_LIMIT_REDIS_PREFIX: `agora:bench-saga:${Date.now()}:`,
      AMQP_URL: "",
      KAFKA_BROKERS: "",
      PORT: String(port),
      JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123",
      PAYMENT_PROVIDER_SECRET: "bench-webhook-secret",
      SHIPPING_SIMULATOR: "off",
      ADMIN_EMAILS: "admin@example.com",
      ADMIN_EMAIL: "admin@example.com",
      ADMIN_PASSWORD: "admin-password-123",
      RATE_LIMIT_CAPACITY: "1000000000",
      RATE_LIMIT_REFILL_PER_SECOND: "1000000000"
    },
    stdio: ["ignore", "ignore", "inherit"]
  })
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/api/ready`, { signal: AbortSignal.timeout(2000) })).ok) break
      } catch {}
      if (i > 300) throw new Error("the server did not start")
      await new Promise((r) => setTimeout(r, 200))
    }
    // Stock for every order the run can place: restock the two parts as the admin.
    const tokens = await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        const email = `bench-${clients}-${i}@example.com`
        await post(`${base}/api/auth/register`, { email, password: "bench-password-1" })
        const { access_token } = (await post(`${base}/api/auth/token`, {
          username: email,
          password: "bench-password-1"
        })) as {
          access_token: string
        }
        await post(`${base}/api/accounts`, {}, access_token)
        await post(`${base}/api/accounts/me/top-up`, { amount: "1000000.00" }, access_token)
        return access_token
      })
    )
    const admin = (await post(`${base}/api/auth/token`, {
      username: "admin@example.com",
      password: "admin-password-123"
    })) as { access_token: string }
    for (const sku of ["OIL-FLT-003", "SPK-PLG-IR-006"]) {
      await post(`${base}/api/admin/inventory/${sku}/restock`, { quantity: 1_000_000 }, admin.access_token)
    }
    const started = new Map<string, number>()
    const deadline = performance.now() + duration * 1000
    const t0 = Date.now() - performance.now()
    let placed = 0
    // Closed loop: each client places an order, waits until it is PAID (polling its GET every 5 ms,
    // served by the edge's fast read), then places the next.
    await Promise.all(
      tokens.map(async (token) => {
        while (performance.now() < deadline) {
          const at = performance.now()
          const order = await post(
            `${base}/api/orders`,
            {
              items: [
                { sku: "OIL-FLT-003", quantity: 1 },
                { sku: "SPK-PLG-IR-006", quantity: 1 }
              ],
              payment_method: "account"
            },
            token
          )
          started.set(order.id as string, t0 + at)
          placed++
          while (performance.now() < deadline + 5_000) {
            const response = await fetch(`${base}/api/orders/${order.id as string}`, {
              headers: { authorization: `Bearer ${token}` }
            })
            const { status } = (await response.json()) as { status: string }
            if (status !== "PENDING" && status !== "RESERVED") break
            await new Promise((r) => setTimeout(r, 5))
          }
        }
      })
    )
    const elapsed = duration
    // Let the sagas in flight finish, then read when each order was paid.
    await new Promise((r) => setTimeout(r, 3000))
    const paidAt = await Effect.runPromise(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ order_id: string; at: Date }>`
          SELECT data->>'orderId' AS order_id, recorded_at AS at FROM events WHERE event_type = 'OrderPaid'`
        const backlogRows = yield* sql<{ n: string }>`SELECT count(*) AS n FROM outbox WHERE published_at IS NULL`
        return { rows, backlog: Number(backlogRows[0]?.n ?? 0) }
      }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 })))
    )
    const latencies: Array<number> = []
    let paidInWindow = 0
    for (const row of paidAt.rows) {
      const start = started.get(row.order_id)
      if (start === undefined) continue
      latencies.push(row.at.getTime() - start)
      if (row.at.getTime() <= t0 + deadline) paidInWindow++
    }
    latencies.sort((a, b) => a - b)
    return {
      clients,
      placed,
      paid: latencies.length,
      paidPerS: paidInWindow / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      backlog: paidAt.backlog
    }
  } finally {
    child.kill("SIGTERM")
    await once(child, "exit")
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
