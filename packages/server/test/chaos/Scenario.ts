/**
 * One chaos scenario from start to verdict: the real server on the
 * scenario's stores, stock restocked (one SKU left scarce), virtual users
 * registered and funded, the load running, the fault injected while it runs,
 * then the load stopped, the system left to come to rest (bounded), and
 * every check made: the common invariants (`Invariants`), the scenario's
 * own, no server crash, and no 5xx other than 503 (SPEC §8) at any time. Returns the report; the test prints it and fails
 * on any violation.
 */
import { writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ShippingSimulator } from "@agora/simulators"
import { demoCatalog } from "../../src/CatalogSeed.ts"
import { ChaosServer } from "./ChaosServer.ts"
import { Client } from "./Client.ts"
import { sleep } from "./Concurrency.ts"
import * as EventLog from "./EventLog.ts"
import * as Invariants from "./Invariants.ts"
import { Ledger, type Write } from "./Ledger.ts"
import * as Load from "./Load.ts"
import { awaitRest } from "./Quiescence.ts"
import type { Report } from "./Report.ts"

export const adminEmail = "chaos-admin@example.com"
const adminPassword = "chaos-admin-password-1"
export const webhookSecret = "chaos-webhook-secret"
const shippingCancelRate = 0.1

/** The SKUs the load orders (restocked plentifully) and the scarce one (left with its seeded stock). */
export const plentiful = ["OIL-FLT-003", "AIR-FLT-004", "SPK-PLG-IR-006", "WPR-BLD-600-008", "TMG-BLT-KIT-007"]
export const scarce = "BAT-60AH-010"
const restock = 5_000

/**
 * The server's configuration every scenario shares: short payment timeout
 * and simulator delays so orders finish within seconds, the shipping
 * simulator cancelling a share of orders, no rate limits, no web UI. The
 * scenario adds its stores (`DATABASE_URL`, `REDIS_URL`, `AMQP_URL`, …).
 */
export const baseEnv: Readonly<Record<string, string>> = {
  JWT_SECRET: "chaos-secret-chaos-secret-chaos-secret-01",
  PAYMENT_PROVIDER_SECRET: webhookSecret,
  // The admin registers through the API like anyone (the role comes from ADMIN_EMAILS): no seeding, and no
  // password hashed again at every restart.
  ADMIN_EMAILS: adminEmail,
  KAFKA_BROKERS: "",
  RATE_LIMIT_ENABLED: "false",
  WEB_UI: "false",
  SEED_DEMO_USERS: "false",
  PAYMENT_TIMEOUT: "4 seconds",
  PAYMENT_SIMULATOR_DELAY: "30 millis",
  PAYMENT_SIMULATOR_SLOW_DELAY: "1 second",
  SHIPPING_SIMULATOR_DELAY: "100 millis",
  SHIPPING_SIMULATOR_CANCEL_RATE: String(shippingCancelRate),
  SHIPPING_REQUEST_RETRY: "5 seconds",
  // Warnings and errors only: what a failure message needs, without a line per order.
  LOG_LEVEL: "warn",
  // Each restart compiles the server's modules again; Node's cache makes that a fraction.
  NODE_COMPILE_CACHE: join(tmpdir(), "agora-chaos-compile-cache")
}

export interface FaultContext {
  readonly server: ChaosServer
  readonly client: Client
  readonly ledger: Ledger
  readonly sql: EventLog.Sql
  /** Counts injected faults. */
  readonly injected: (n?: number) => void
  /** Sets the phase answers are counted under. */
  readonly phase: (name: string) => void
  readonly note: (text: string) => void
  readonly violation: (text: string) => void
}

export interface AfterContext extends FaultContext {
  readonly world: EventLog.World
}

export interface ScenarioSpec {
  readonly name: string
  /** For user emails. */
  readonly label: string
  /** The server's whole configuration (`baseEnv` and the stores). */
  readonly env: Readonly<Record<string, string>>
  /** The event store's database, read by the checks. */
  readonly databaseUrl: string
  readonly users?: number
  /** How long a write is retried (same key) before the client gives up on it. */
  readonly writeBudgetMs?: number
  /** Load before the fault, and after it. */
  readonly warmupMs: number
  readonly tailMs: number
  /** How long the system may take to come to rest once the load stopped. */
  readonly restTimeoutMs?: number
  /** Whether card payments that would succeed may time out (the server or its database was away for long). */
  readonly cardTimeoutsPossible: boolean
  /** Injects the fault while the load runs; resolves once it is over (the service restored). */
  readonly fault: (context: FaultContext) => Promise<void>
  /** Runs once the load stopped, before the wait for rest (more faults that need the orders finished). */
  readonly beforeRest?: (context: FaultContext) => Promise<void>
  /** The scenario's own checks, once all is at rest. */
  readonly afterRest?: (context: AfterContext) => Promise<void>
}

/** `202×40 503×3 —×2` (— = no answer). */
const histogram = (statuses: ReadonlyMap<number, number> | undefined) =>
  [...(statuses ?? [])]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status === 0 ? "—" : status}×${n}`)
    .join(" ")

const writeSummary = (writes: ReadonlyArray<Write>, tag: Write["_tag"], label: string) => {
  const mine = writes.filter((w) => w._tag === tag)
  const n = (outcome: string) => mine.filter((w) => w.outcome._tag === outcome).length
  return `${label} ${mine.length} (acknowledged ${n("acknowledged")}, rejected ${n("rejected")}, unresolved ${n("unresolved")})`
}

/** What the client saw go wrong at the edge over a whole run: server errors, and 503s that are no problem+json. */
export const edgeViolations = (client: Client): Array<string> => [
  ...[...client.serverErrors].map((error) => `a server error: ${error}`),
  ...[...client.plain503].map((error) => `a 503 that is not a problem: ${error}`)
]

/** The notes every run prints: the answers by phase, what became of the writes, and the orders' final states. */
export const loadNotes = (client: Client, ledger: Ledger, world: EventLog.World): Array<string> => {
  const notes = [...client.statuses.keys()].map((key) => `answers ${key}: ${histogram(client.statuses.get(key))}`)
  notes.push(
    [
      writeSummary(ledger.writes, "TopUp", "top-ups"),
      writeSummary(ledger.writes, "PlaceOrder", "orders"),
      writeSummary(ledger.writes, "CancelOrder", "cancels")
    ].join("; ")
  )
  const finals = new Map<string, number>()
  for (const order of world.orders.values()) {
    const key = order._tag === "Cancelled" ? `CANCELLED/${order.reason}` : order._tag.toUpperCase()
    finals.set(key, (finals.get(key) ?? 0) + 1)
  }
  notes.push(
    `orders in the log: ${world.orders.size} (${[...finals]
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")})`
  )
  return notes
}

/** The shipping simulator's decision for an order (it hashes the order id). */
export const shippingCancels = (orderId: string, skus: ReadonlyArray<string>) =>
  ShippingSimulator.cancels(
    {
      event_id: "-",
      type: "order.paid",
      occurred_at: "-",
      order_id: orderId,
      shipment_id: "-",
      items: skus.map((sku) => ({ item_id: "-", sku, quantity: 1 })),
      idempotency_key: "-"
    },
    { cancelRate: shippingCancelRate, cancelSkus: new Set() }
  )

/** The admin's token (registered through the API like anyone). */
export const signInAdmin = (client: Client): Promise<string> => Load.register(client, adminEmail, adminPassword)

/**
 * Restocks every plentiful SKU by `restock` (acknowledged, or the setup
 * fails); returns the stock each SKU the load orders starts with.
 */
export const restockPlentiful = async (client: Client, adminToken: string): Promise<ReadonlyMap<string, number>> => {
  const initialStock = new Map(demoCatalog.map((p) => [p.sku, p.initialStock ?? 0]))
  await Promise.all(
    plentiful.map(async (sku) => {
      const outcome = await client.write(`/api/admin/inventory/${sku}/restock`, {
        token: adminToken,
        json: { quantity: restock },
        budgetMs: 60_000,
        timeoutMs: 30_000
      })
      if (outcome._tag !== "acknowledged") throw new Error(`setup: restocking ${sku} was not acknowledged`)
      initialStock.set(sku, (initialStock.get(sku) ?? 0) + restock)
    })
  )
  return new Map([...initialStock].filter(([sku]) => plentiful.includes(sku) || sku === scarce))
}

/** Runs the scenario; returns its report and the server's last output. */
export const run = async (spec: ScenarioSpec): Promise<{ readonly report: Report; readonly output: string }> => {
  const started = performance.now()
  const violations: Array<string> = []
  const notes: Array<string> = []
  let faults = 0
  const sql = EventLog.connect(spec.databaseUrl)
  const server = await ChaosServer.start(spec.env)
  try {
    const client = new Client(() => server.url)
    const ledger = new Ledger()
    const context: FaultContext = {
      server,
      client,
      ledger,
      sql,
      injected: (n = 1) => {
        faults += n
      },
      phase: (name) => {
        client.phase = name
      },
      note: (text) => void notes.push(text),
      violation: (text) => void violations.push(text)
    }

    const adminToken = await signInAdmin(client)
    const [stock] = await Promise.all([
      restockPlentiful(client, adminToken),
      Load.setupUsers(client, ledger, spec.users ?? 10, spec.label)
    ])
    const loadStarted = performance.now()
    let stopped = false
    const load = Load.run(
      client,
      ledger,
      { skus: plentiful, scarce: { sku: scarce, share: 0.08 }, writeBudgetMs: spec.writeBudgetMs ?? 20_000 },
      () => stopped
    )
    await sleep(spec.warmupMs)
    await spec.fault(context)
    client.phase = "after"
    await sleep(spec.tailMs)
    stopped = true
    await load
    const loadEnded = performance.now()

    await spec.beforeRest?.(context)
    client.phase = "checks"
    const rest = await awaitRest(sql, { timeoutMs: spec.restTimeoutMs ?? 45_000 })
    const checksStarted = performance.now()
    if (!rest.reached) {
      const followers = await sql.query<{ name: string; position: string }>(
        "SELECT name, position FROM subscription_checkpoints ORDER BY name"
      )
      violations.push(
        `not at rest ${(rest.waitedMs / 1000).toFixed(0)} s after the load: ${rest.openOrders} orders not final, ${rest.openSagas} sagas not finished, ${rest.backlog} outbox messages unpublished; the log's head is ${rest.head}, checkpoints: ${followers.map((f) => `${f.name} ${f.position}`).join(", ")}`
      )
    }
    const world = await EventLog.read(sql)
    const result = await Invariants.check({
      world,
      ledger,
      client,
      adminToken,
      initialStock: stock,
      shippingCancels,
      cardTimeoutsPossible: spec.cardTimeoutsPossible
    })
    violations.push(...result.violations)
    // Every order.paid (one per shipment created) got exactly one answer through the inbox: none lost, none twice.
    const inbox = Number((await sql.query<{ n: string }>("SELECT count(*) AS n FROM inbox"))[0]?.n ?? 0)
    const shipments = [...world.streams.values()].filter((events) => events[0]?.type === "ShipmentCreated").length
    if (inbox !== shipments) violations.push(`the inbox handled ${inbox} shipping answers for ${shipments} shipments`)
    for (const parked of await EventLog.deadLetters(sql)) {
      violations.push(`a ${parked.topic} message was parked (${parked.reason}): ${parked.value.slice(0, 300)}`)
    }
    await spec.afterRest?.({ ...context, world })
    violations.push(...server.crashes)
    // Counted over the whole scenario, the checks' own requests included.
    violations.push(...edgeViolations(client))

    notes.push(...loadNotes(client, ledger, world))
    const seconds = (from: number, to: number) => `${((to - from) / 1000).toFixed(1)} s`
    notes.push(
      `time: setup ${seconds(started, loadStarted)} (the server ready in ${((server.startTimes[0] ?? 0) / 1000).toFixed(1)} s), load ${seconds(loadStarted, loadEnded)}, to rest ${seconds(loadEnded, checksStarted)}, checks ${seconds(checksStarted, performance.now())}`
    )
    if (violations.length > 0) {
      const file = join(tmpdir(), `agora-chaos-${spec.label}-${Date.now()}.log`)
      writeFileSync(file, server.output())
      notes.push(`the server's whole output: ${file}`)
    }
    return {
      report: {
        scenario: spec.name,
        requests: client.requests,
        acknowledgedChecked: result.checked,
        faults,
        violations,
        seconds: (performance.now() - started) / 1000,
        notes
      },
      output: server.output(80)
    }
  } finally {
    await server.kill()
    await sql.close()
  }
}
