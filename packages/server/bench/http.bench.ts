/**
 * `pnpm bench:http [--json] [--duration=10] [--connections=64]`: the HTTP API
 * under autocannon, against a bare node:http server as the ceiling, in one run.
 *
 * The Agora server is the real one (`packages/server/src/main.ts`, a child
 * process) on the machine's PostgreSQL (a fresh database) and Redis (rate
 * limits stay on, with a capacity no client reaches). The ceiling is a bare
 * node:http server (another child process) that answers every request with
 * the same JSON body as `GET /api/orders/{id}`, so the ratio is the price of
 * everything Agora does around the bytes: routing, the edge middleware, JWT
 * authentication, the rate-limit check in Redis, the actor read, encoding.
 *
 * Routes: `GET /api/orders/{id}` (authenticated, the owner's order) and
 * `POST /api/accounts/me/top-up` `{"amount":"1.00"}` (a write: one event
 * appended and committed to PostgreSQL per request). With `--json` the last
 * line is one JSON object with `get_order_rps`, `topup_rps`, `ceiling_rps`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import * as BenchDatabase from "@agora/testkit/bench-database"
import { parseArgs } from "@agora/testkit/load"
import autocannon from "autocannon"

const args = parseArgs(process.argv.slice(2))
const duration = Number(args.duration ?? 10)
const connections = Number(args.connections ?? 64)
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
const mainTs = fileURLToPath(new URL("../src/main.ts", import.meta.url))

const freePort = async (): Promise<number> => {
  const server = createServer().listen(0, "127.0.0.1")
  await once(server, "listening")
  const address = server.address()
  server.close()
  if (address === null || typeof address === "string") throw new Error("no port")
  return address.port
}

const children: Array<ChildProcess> = []
const stopAll = () => {
  for (const child of children) child.kill("SIGTERM")
}
process.on("exit", stopAll)

const start = (script: Array<string>, env: Record<string, string>): ChildProcess => {
  const child = spawn(process.execPath, script, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  child.on("exit", (code) => {
    if (code !== 0 && code !== null) console.error(`child exited ${code}:\n${stderr}`)
  })
  children.push(child)
  return child
}

const waitFor = async (url: string, seconds = 60) => {
  const deadline = Date.now() + seconds * 1000
  while (Date.now() < deadline) {
    try {
      // A connection accepted while the server is still starting may never be answered: give up on it.
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`${url} did not answer within ${seconds}s`)
}

const json = async (url: string, init: { method?: string; token?: string; body?: unknown } = {}) => {
  const response = await fetch(url, {
    method: init.method ?? "GET",
    headers: {
      "content-type": "application/json",
      ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` })
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
  })
  const body = (await response.json()) as Record<string, unknown>
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${url}: ${response.status} ${JSON.stringify(body)}`)
  return body
}

// The Agora server.
const databaseUrl = await BenchDatabase.fresh("agora_bench_http")
const agoraPort = await freePort()
const agora = `http://127.0.0.1:${agoraPort}`
// `--profile=DIR` writes a CPU profile of the Agora server there (on exit).
const profile = args.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${args.profile}`]
const only = args.only // e.g. `--only=get`: measure one route (with the ceiling), for profiling
const server = start([...profile, mainTs], {
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl,
  PORT: String(agoraPort),
  HOST: "127.0.0.1",
  JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123",
  PAYMENT_PROVIDER_SECRET: "bench-webhook-secret",
  ADMIN_EMAILS: "admin@example.com",
  ADMIN_EMAIL: "admin@example.com",
  ADMIN_PASSWORD: "admin-password-123",
  RATE_LIMIT_CAPACITY: "1000000000",
  RATE_LIMIT_REFILL_PER_SECOND: "1000000000",
  RATE_LIMIT_REDIS_PREFIX: `agora:bench:${Date.now()}:`,
  // Logs as the image writes them (`NODE_ENV=production`), not the development default (`pretty`).
  LOG_FORMAT: "json",
  // `--env=K=V,K2=V2`: extra server configuration, to see what a setting costs.
  ...Object.fromEntries(
    (args.env ?? "")
      .split(",")
      .filter(Boolean)
      .map((kv) => kv.split("=", 2) as [string, string])
  )
})
await waitFor(`${agora}/api/ready`)

// A customer with an account and an order.
const email = `bench-${Date.now()}@example.com`
await json(`${agora}/api/auth/register`, { method: "POST", body: { email, password: "bench-password-1" } })
const { access_token: token } = (await json(`${agora}/api/auth/token`, {
  method: "POST",
  body: { username: email, password: "bench-password-1" }
})) as { access_token: string }
await json(`${agora}/api/accounts`, { method: "POST", token })
const order = await json(`${agora}/api/orders`, {
  method: "POST",
  token,
  body: { items: [{ sku: "OIL-FLT-003", quantity: 2 }], payment_method: "account" }
})
const orderUrl = `${agora}/api/orders/${order.id as string}`
const orderBody = JSON.stringify(await json(orderUrl, { token }))

// The ceiling: node:http answering the same bytes.
const ceilingPort = await freePort()
const ceilingSource = `
  const body = Buffer.from(process.env.BODY)
  require("node:http").createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length })
    res.end(body)
  }).listen(Number(process.env.PORT), "127.0.0.1")`
start(["-e", ceilingSource], { PORT: String(ceilingPort), BODY: orderBody })
const ceilingUrl = `http://127.0.0.1:${ceilingPort}/`
await waitFor(ceilingUrl)

interface Row {
  readonly name: string
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
}

const measure = async (name: string, options: Parameters<typeof autocannon>[0]): Promise<Row> => {
  await autocannon({ ...options, connections, duration: 2 }) // warm-up: JIT, actor activation, pools
  const result = await autocannon({ ...options, connections, duration })
  const errors = result.errors + result.timeouts + result.non2xx
  return { name, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors }
}

const auth = { authorization: `Bearer ${token}` }
const rows: Array<Row> = []
rows.push(await measure("ceiling: node:http, same body", { url: ceilingUrl }))
rows.push(await measure("GET /api/orders/{id}", { url: orderUrl, headers: auth }))
if (only !== "get")
  rows.push(
    await measure("POST /api/accounts/me/top-up", {
      url: `${agora}/api/accounts/me/top-up`,
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ amount: "1.00" })
    })
  )
// A clean exit writes the CPU profile; a server that does not stop within 20 s is killed.
server.kill("SIGTERM")
const killer = setTimeout(() => server.kill("SIGKILL"), 20_000)
await once(server, "exit")
clearTimeout(killer)
stopAll()

const [ceiling, getOrder, topUp = getOrder] = rows as [Row, Row, Row?]
console.log(`\nHTTP API, ${connections} connections, ${duration} s per route (after 2 s warm-up), autocannon\n`)
console.log("| route | req/s | p50 ms | p99 ms | errors | × ceiling |")
console.log("|---|---:|---:|---:|---:|---:|")
for (const row of rows) {
  console.log(
    `| ${row.name} | ${Math.round(row.rps)} | ${row.p50} | ${row.p99} | ${row.errors} | ${(row.rps / ceiling.rps).toFixed(2)} |`
  )
}
const ratio = getOrder.rps / ceiling.rps
console.log(`\nGET order / ceiling = ${ratio.toFixed(2)} (target ≥ 0.40)`)
if (args.json === "true") {
  console.log(
    JSON.stringify({
      connections,
      duration_s: duration,
      ceiling_rps: Math.round(ceiling.rps),
      get_order_rps: Math.round(getOrder.rps),
      get_order_p50_ms: getOrder.p50,
      get_order_p99_ms: getOrder.p99,
      get_order_errors: getOrder.errors,
      topup_rps: Math.round(topUp.rps),
      topup_p50_ms: topUp.p50,
      topup_p99_ms: topUp.p99,
      topup_errors: topUp.errors,
      get_order_vs_ceiling: Math.round(ratio * 100) / 100
    })
  )
}
process.exit(0)
