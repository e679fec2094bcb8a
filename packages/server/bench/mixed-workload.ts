/**
 * The load benchmark's mixed workload: closed-loop clients, each bound to one
 * of the seeded users (client i is user i mod users, so past the user count a
 * user has several clients, like several tabs), each sending one request at a
 * time and the next as soon as the answer is in. Every request draws its kind
 * from `mix`: 70% reads, 20% orders, 10% top-ups.
 *
 * Requests go through `node:http` with a keep-alive agent: it is the cheapest
 * client Node has for a closed loop (fetch costs more per request), and the
 * load generator shares the machine's cores with the server.
 */
import { randomUUID } from "node:crypto"
import { Agent, request } from "node:http"
import { demoCatalog } from "../src/CatalogSeed.ts"
import { percentile, post } from "./saga-load.ts"

export type Kind = "get_order" | "list_orders" | "products" | "account" | "place_order" | "top_up"

/**
 * The spread, in % of requests. Reads (70): a customer mostly checks on an
 * order (its id, one of their ten latest), then their list of orders and the
 * catalog, now and then their balance. Writes: an order (20, account payment,
 * 1–2 lines of 1–2 units of the demo parts) and a top-up (10). Both POSTs
 * carry a fresh `Idempotency-Key`, as a client that may retry does.
 */
export const mix: ReadonlyArray<{ readonly kind: Kind; readonly percent: number; readonly route: string }> = [
  { kind: "get_order", percent: 30, route: "GET /api/orders/{id}" },
  { kind: "list_orders", percent: 15, route: "GET /api/orders" },
  { kind: "products", percent: 15, route: "GET /api/products" },
  { kind: "account", percent: 10, route: "GET /api/accounts/me" },
  { kind: "place_order", percent: 20, route: "POST /api/orders" },
  { kind: "top_up", percent: 10, route: "POST /api/accounts/me/top-up" }
]

/**
 * A top-up adds more than two orders cost on average (an order is ~6,100 ₽:
 * 1.5 lines × 1.5 units of a ~4,050 ₽ mean price … at most 2 × 2 × 12,780 ₽),
 * so with the 1,000,000 ₽ each user starts with, no account runs dry.
 */
const topUpBody = JSON.stringify({ amount: "20000.00" })
const skus = demoCatalog.map((p) => p.sku)
/** How many of a user's latest orders `GET /api/orders/{id}` picks from. */
const recentOrders = 10

export interface User {
  readonly token: string
  /** The user's latest order ids (at most `recentOrders`), newest last. */
  readonly orders: Array<string>
}

/** Latencies and outcomes of the requests that completed while it was open. */
export class Window {
  readonly opened = performance.now()
  closed: number | undefined
  readonly latencies = new Map<Kind, Array<number>>(mix.map((m) => [m.kind, []]))
  /** Failed requests by kind, then by status (`"503"`) or network error code (`"ECONNRESET"`). */
  readonly errors = new Map<Kind, Map<string, number>>(mix.map((m) => [m.kind, new Map()]))

  close() {
    this.closed ??= performance.now()
    return this
  }
}

export interface KindSummary {
  readonly kind: Kind
  readonly requests: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  readonly errorsByStatus: Record<string, number>
}

export interface WindowSummary {
  readonly seconds: number
  readonly requests: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  readonly errorsByStatus: Record<string, number>
  readonly kinds: ReadonlyArray<KindSummary>
}

const sorted = (values: Iterable<number>) => Float64Array.from(values).sort()

/** Latency of every completed request (an error answer too: it was waited for), errors counted apart. */
export const summarise = (window: Window): WindowSummary => {
  const seconds = ((window.closed ?? performance.now()) - window.opened) / 1000
  const byStatus = (counts: Map<string, number>) => Object.fromEntries([...counts].sort())
  const count = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0)
  const kinds = mix.map(({ kind }): KindSummary => {
    const latencies = sorted(window.latencies.get(kind)!)
    const errors = window.errors.get(kind)!
    return {
      kind,
      requests: latencies.length,
      rps: latencies.length / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      errors: count(errors),
      errorsByStatus: byStatus(errors)
    }
  })
  const all = sorted(kinds.flatMap(({ kind }) => window.latencies.get(kind)!))
  const errors = new Map<string, number>()
  for (const counts of window.errors.values())
    for (const [status, n] of counts) errors.set(status, (errors.get(status) ?? 0) + n)
  return {
    seconds,
    requests: all.length,
    rps: all.length / seconds,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    errors: count(errors),
    errorsByStatus: byStatus(errors),
    kinds
  }
}

/** Where completed requests are recorded: every open window in `windows` (none: the request is not counted). */
export interface Recorder {
  windows: ReadonlyArray<Window>
}

interface Answer {
  readonly status: number
  readonly body: string | undefined
}

export interface Target {
  readonly host: string
  readonly port: number
  readonly agent: Agent
}

export const target = (base: string): Target => {
  const url = new URL(base)
  return { host: url.hostname, port: Number(url.port), agent: new Agent({ keepAlive: true }) }
}

/** One request; the body is read only when `wantBody` (an order's id), otherwise drained. */
const send = (
  to: Target,
  method: "GET" | "POST",
  path: string,
  token: string,
  body: string | undefined,
  wantBody: boolean
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}` }
    if (body !== undefined) {
      headers["content-type"] = "application/json"
      headers["content-length"] = Buffer.byteLength(body)
      headers["idempotency-key"] = randomUUID()
    }
    const req = request({ host: to.host, port: to.port, method, path, headers, agent: to.agent }, (res) => {
      const status = res.statusCode ?? 0
      if (!wantBody || status >= 300) {
        res.resume()
        res.on("end", () => resolve({ status, body: undefined }))
      } else {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => {
          text += chunk
        })
        res.on("end", () => resolve({ status, body: text }))
      }
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end(body)
  })

const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(Math.random() * items.length)]!

const drawKind = (): Kind => {
  let roll = Math.random() * 100
  for (const { kind, percent } of mix) {
    roll -= percent
    if (roll < 0) return kind
  }
  return mix.at(-1)!.kind
}

const orderBody = () => {
  const first = pick(skus)
  const second = pick(skus)
  const items = [{ sku: first, quantity: 1 + Math.floor(Math.random() * 2) }]
  if (Math.random() < 0.5 && second !== first) items.push({ sku: second, quantity: 1 + Math.floor(Math.random() * 2) })
  return JSON.stringify({ items, payment_method: "account" })
}

const remember = (user: User, body: string | undefined) => {
  if (body === undefined) return
  user.orders.push((JSON.parse(body) as { id: string }).id)
  if (user.orders.length > recentOrders) user.orders.shift()
}

/** One request of a drawn kind, for `user`. */
const one = async (to: Target, user: User, kind: Kind): Promise<Answer> => {
  switch (kind) {
    case "get_order":
      return send(to, "GET", `/api/orders/${pick(user.orders)}`, user.token, undefined, false)
    case "list_orders":
      return send(to, "GET", "/api/orders", user.token, undefined, false)
    case "products":
      return send(to, "GET", "/api/products", user.token, undefined, false)
    case "account":
      return send(to, "GET", "/api/accounts/me", user.token, undefined, false)
    case "place_order": {
      const answer = await send(to, "POST", "/api/orders", user.token, orderBody(), true)
      remember(user, answer.body)
      return answer
    }
    case "top_up":
      return send(to, "POST", "/api/accounts/me/top-up", user.token, topUpBody, false)
  }
}

/**
 * `concurrency` clients in a closed loop until `deadline` (`performance.now()`
 * ms): no new request starts after it; the promise settles when the last
 * answer is in.
 */
export const runClients = async (
  to: Target,
  users: ReadonlyArray<User>,
  concurrency: number,
  deadline: number,
  recorder: Recorder
): Promise<void> => {
  const client = async (i: number) => {
    // Client i acts for users i, i + concurrency, i + 2 × concurrency…, one per request: every user is busy at any
    // concurrency, as many customers are, rather than a few accounts taking every order of the run.
    let turn = i
    while (performance.now() < deadline) {
      const user = users[turn % users.length]!
      turn += concurrency
      const kind = drawKind()
      const started = performance.now()
      // undefined: a 2xx answer; else the status, or the network error's code when there was no answer.
      let failure: string | undefined
      let answered = true
      try {
        const { status } = await one(to, user, kind)
        if (status < 200 || status >= 300) failure = String(status)
      } catch (error) {
        answered = false
        failure = (error as NodeJS.ErrnoException).code ?? "network"
      }
      const latency = performance.now() - started
      for (const window of recorder.windows) {
        if (answered) window.latencies.get(kind)!.push(latency)
        if (failure !== undefined) {
          const errors = window.errors.get(kind)!
          errors.set(failure, (errors.get(failure) ?? 0) + 1)
        }
      }
      // A refused connection fails at once: do not spin on it.
      if (!answered) await new Promise((r) => setTimeout(r, 10))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)))
}

/**
 * One order per user, so that `GET /api/orders/{id}` has one to read from
 * the start, and every demo part restocked so that no order runs out.
 */
export const prepareUsers = async (base: string, tokens: ReadonlyArray<string>, stock: number) => {
  const admin = (await post(`${base}/api/auth/token`, {
    username: "admin@example.com",
    password: "admin-password-123"
  })) as { access_token: string }
  for (const sku of skus)
    await post(`${base}/api/admin/inventory/${sku}/restock`, { quantity: stock }, admin.access_token)
  return Promise.all(
    tokens.map(async (token): Promise<User> => {
      const order = await post(`${base}/api/orders`, JSON.parse(orderBody()), token)
      return { token, orders: [order.id as string] }
    })
  )
}
