/**
 * The saga benchmark's load, shared by `saga.bench.ts` and
 * `projections.bench.ts`: the real server (`packages/server/src/main.ts`) as a
 * child process on a fresh bench database, the machine's Redis for rate
 * limits, the in-process broker and the shipping simulator off (PAID is where
 * orders rest); clients that are each a user with a funded account; and the
 * closed loop in which each client places an order of two demo parts
 * (account payment), waits until it is PAID (on the order's live status) and
 * places the next.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import * as http from "node:http"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import * as BenchDatabase from "@agora/testkit/bench-database"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"

const mainTs = fileURLToPath(new URL("../src/main.ts", import.meta.url))

export const freePort = async () => {
  const server = createServer().listen(0, "127.0.0.1")
  await once(server, "listening")
  const address = server.address()
  server.close()
  if (address === null || typeof address === "string") throw new Error("no port")
  return address.port
}

/**
 * The load's HTTP client: node:http over kept-alive connections. It
 * shares the machine's two cores with the server, and undici's `fetch` cost
 * it about 3 ms of CPU per order (POST and live status; `bench:saga --split`).
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 })

/** One request over `agent`; the response's status and body (a whole body, or chunks to `onChunk`). */
const request = (
  url: string,
  options: { readonly method: string; readonly headers: Record<string, string>; readonly body?: string },
  onChunk?: (text: string, close: () => void) => void
) =>
  new Promise<{ readonly status: number; readonly body: string }>((resolve, reject) => {
    const req = http.request(url, { method: options.method, headers: options.headers, agent }, (res) => {
      res.setEncoding("utf8")
      let body = ""
      const close = () => {
        // Done early (a live stream we have what we wanted of): this connection is not reused.
        res.destroy()
        resolve({ status: res.statusCode ?? 0, body })
      }
      res.on("data", (chunk: string) => {
        if (onChunk === undefined) body += chunk
        else onChunk(chunk, close)
      })
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end(options.body)
  })

/** A JSON POST (with a bearer token when given); its JSON answer, or an error for a non-2xx status. */
export const post = async (url: string, body: unknown, token?: string) => {
  const payload = JSON.stringify(body)
  const response = await request(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(payload)),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    },
    body: payload
  })
  if (response.status < 200 || response.status >= 300) throw new Error(`${url}: ${response.status} ${response.body}`)
  return JSON.parse(response.body) as Record<string, unknown>
}

export const percentile = (sorted: ArrayLike<number>, p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

export interface ServerOptions {
  /** The bench database's name (recreated empty, unless `attach`). */
  readonly database: string
  /** Join the database as it is, e.g. as another node of a cluster, instead of recreating it. */
  readonly attach?: boolean
  /** Node options before the entry point (e.g. `--cpu-prof`, `--import`). */
  readonly nodeArgs?: ReadonlyArray<string>
  /** Environment on top of the saga benchmark's. */
  readonly env?: Readonly<Record<string, string>>
  /** Open an IPC channel to the server (for an `--import`ed probe). */
  readonly ipc?: boolean
}

export interface Server {
  readonly base: string
  readonly databaseUrl: string
  readonly child: ChildProcess
  /** SIGTERM, then waits for the process to exit. */
  readonly stop: () => Promise<void>
}

/** The URL of the bench database `name` (without touching it). */
const databaseUrlOf = (name: string) => {
  const url = new URL(BenchDatabase.serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** Starts the real server on a fresh database (or the existing one: `attach`) and waits until it is ready. */
export const startServer = async (options: ServerOptions): Promise<Server> => {
  const databaseUrl =
    options.attach === true ? databaseUrlOf(options.database) : await BenchDatabase.fresh(options.database)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), mainTs], {
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
      RATE_LIMIT_REFILL_PER_SECOND: "1000000000",
      // Logs as the image writes them (`NODE_ENV=production`), not the development default (`pretty`).
      LOG_FORMAT: "json",
      ...options.env
    },
    stdio: options.ipc === true ? ["ignore", "ignore", "inherit", "ipc"] : ["ignore", "ignore", "inherit"]
  })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill("SIGTERM")
    await once(child, "exit")
  }
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/api/ready`, { signal: AbortSignal.timeout(2000) })).ok) break
      } catch {}
      if (i > 300) throw new Error("the server did not start")
      await new Promise((r) => setTimeout(r, 200))
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { base, databaseUrl, child, stop }
}

/** One funded user per client (their bearer tokens), and stock for every order the run can place. */
export const prepareClients = async (base: string, clients: number): Promise<ReadonlyArray<string>> => {
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
  return tokens
}

export interface LoadRun {
  /** Each order's id → when its POST was sent (epoch ms). */
  readonly started: Map<string, number>
  /** Epoch ms of `performance.now()` 0 (add a `performance.now()` reading to get epoch ms). */
  readonly t0: number
  /** The end of the load, in `performance.now()` ms. */
  readonly deadline: number
  /** The start of the load, in `performance.now()` ms. */
  readonly begin: number
  readonly placed: number
}

/**
 * Waits until the order is past PENDING and RESERVED (PAID, or CANCELLED), or
 * until `until` (`performance.now()` ms): the way a client of ours would, on
 * the order's live status (`GET /api/orders/{id}/live`, Server-Sent Events),
 * which tells it the moment the status changes. (Polling the order's GET
 * every 5 ms, as this load did before, cost the server more than the orders:
 * 64 clients asked up to 12,800 times a second.)
 */
export const untilSettled = async (base: string, orderId: string, token: string, until: number) => {
  let buffered = ""
  let settled = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const response = request(
    `${base}/api/orders/${orderId}/live`,
    { method: "GET", headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } },
    (chunk, close) => {
      if (timer === undefined) timer = setTimeout(close, Math.max(0, until - performance.now()))
      buffered += chunk
      let end = buffered.indexOf("\n\n")
      while (end >= 0 && !settled) {
        const message = buffered.slice(0, end)
        buffered = buffered.slice(end + 2)
        for (const line of message.split("\n")) {
          if (!line.startsWith("data: ")) continue
          const { status } = JSON.parse(line.slice(6)) as { status: string }
          if (status !== "PENDING" && status !== "RESERVED") settled = true
        }
        end = buffered.indexOf("\n\n")
      }
      if (settled) close()
    }
  )
  const { status } = await response.finally(() => clearTimeout(timer))
  if (status !== 200) throw new Error(`live status of ${orderId}: ${status}`)
}

/**
 * The closed loop, for `duration` seconds: each client places an order, waits
 * until it is PAID (on the order's live status, `untilSettled`), then places
 * the next. Given several servers (the nodes of a
 * cluster), the clients are dealt out to them in turn.
 */
export const runClosedLoop = async (
  bases: string | ReadonlyArray<string>,
  tokens: ReadonlyArray<string>,
  duration: number
): Promise<LoadRun> => {
  const servers = typeof bases === "string" ? [bases] : bases
  const started = new Map<string, number>()
  const begin = performance.now()
  const deadline = begin + duration * 1000
  const t0 = Date.now() - performance.now()
  let placed = 0
  await Promise.all(
    tokens.map(async (token, client) => {
      const base = servers[client % servers.length]!
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
        await untilSettled(base, order.id as string, token, deadline + 5_000)
      }
    })
  )
  return { started, t0, deadline, begin, placed }
}

/** When each order was paid (its `OrderPaid` event's `recorded_at`), and the outbox backlog. */
export const readPaid = (databaseUrl: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ order_id: string; at: Date }>`
          SELECT data->>'orderId' AS order_id, recorded_at AS at FROM events WHERE event_type = 'OrderPaid'`
      const backlogRows = yield* sql<{ n: string }>`SELECT count(*) AS n FROM outbox WHERE published_at IS NULL`
      return { rows, backlog: Number(backlogRows[0]?.n ?? 0) }
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 })))
  )

export interface PaidSummary {
  readonly paid: number
  /** Orders paid by the end of the load, per second of load. */
  readonly paidPerS: number
  readonly p50: number
  readonly p99: number
  readonly backlog: number
}

/** Times to PAID of the run's orders (from just before the POST to the `OrderPaid` commit). */
export const summarisePaid = async (databaseUrl: string, run: LoadRun, duration: number): Promise<PaidSummary> => {
  const paidAt = await readPaid(databaseUrl)
  const latencies: Array<number> = []
  let paidInWindow = 0
  for (const row of paidAt.rows) {
    const start = run.started.get(row.order_id)
    if (start === undefined) continue
    latencies.push(row.at.getTime() - start)
    if (row.at.getTime() <= run.t0 + run.deadline) paidInWindow++
  }
  latencies.sort((a, b) => a - b)
  return {
    paid: latencies.length,
    paidPerS: paidInWindow / duration,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    backlog: paidAt.backlog
  }
}
