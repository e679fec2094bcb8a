/**
 * Background work runs once across nodes (issue 9): two `ROLE=workers`
 * processes and an API (with the simulators) on one PostgreSQL, Redis and
 * RabbitMQ. The saga's log follower is split into partitions (4, the
 * default) and each Redis projection into 2 (`PROJECTION_PARTITIONS`), shared
 * out evenly between the workers; every other piece of background work — the
 * payment deadlines, the outbox relay, the PostgreSQL projections, the
 * gauges — runs in one process at a time under its lease. A
 * worker is killed with SIGKILL while orders are being placed: the other
 * takes its partitions and leases over within about `LEASE_POLL_INTERVAL`,
 * and every order, placed before or after the kill, reaches SHIPPED, each
 * account debited exactly once per order. Needs a real Redis and RabbitMQ;
 * skipped, saying so, without them.
 */
import { randomUUID } from "node:crypto"
import { FulfilmentSaga, ReadModels } from "@agora/app"
import { ProjectionRunner } from "@agora/readmodels"
import { makeRedisStore } from "@agora/readmodels/testing"
import { TestDatabase } from "@agora/testkit"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { awaitStatus, customer, placeOrder } from "./OrderFlow.ts"
import { call, freePort, type ServerProcess, start } from "./ServerProcess.ts"

const redisUrl = process.env.REDIS_URL
const amqpUrl = process.env.AMQP_URL
const missing = [redisUrl ? undefined : "REDIS_URL", amqpUrl ? undefined : "AMQP_URL"].filter(Boolean)
if (missing.length > 0) {
  console.warn(`Leases.test: skipped: ${missing.join(" and ")} not set (the workers share a real Redis and broker)`)
}

/** Work split into partitions (the saga's follower in 4, each Redis projection in 2), shared out evenly by two. */
const groups = [
  FulfilmentSaga.checkpointNames(4),
  ...ReadModels.projections.map((projection) =>
    [0, 1].map((index) => ProjectionRunner.partitionLeaseName(projection.name, { index, of: 2 }))
  )
]
const partitions = groups.flat()
/** Whether `held` (two processes' leases) holds every group half and half. */
const sharedEvenly = (held: ReadonlyArray<ReadonlyArray<string>>) =>
  held.every((names) => groups.every((group) => group.filter((p) => names.includes(p)).length === group.length / 2))
/** The leases held by one process at a time (the PostgreSQL projections may be held by the API too). */
const singletons = [
  "payment-timers",
  "outbox-relay",
  "outbox-redelivery",
  "gauge:agora_saga_states",
  "gauge:agora_outbox_backlog",
  "catalog-products",
  "user-orders"
]

/** The leases a process holds, from its readiness report. */
const leasesHeld = async (server: ServerProcess): Promise<ReadonlyArray<string>> => {
  const ready = await call(server.url, "GET", "/api/ready").catch(() => undefined)
  const leases = (ready?.body?.leases ?? {}) as Record<string, { readonly held_here: boolean }>
  return Object.entries(leases)
    .filter(([, lease]) => lease.held_here)
    .map(([name]) => name)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(missing.length > 0)("background work across nodes, under leases", () => {
  it.live(
    "two workers and an API: the saga's partitions shared out, other work in one process; kill -9 of a worker mid-load, the other takes over, every order completes, each debited once",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const database = yield* TestDatabase.create("leases")
          const { prefix } = yield* makeRedisStore(redisUrl!)
          const apiPort = yield* Effect.promise(freePort)
          const shared = {
            DATABASE_URL: database,
            REDIS_URL: redisUrl!,
            READ_MODEL_PREFIX: prefix,
            KAFKA_BROKERS: "",
            AMQP_URL: amqpUrl!,
            AMQP_EXCHANGE: `agora-leases-${randomUUID()}`,
            JWT_SECRET: "leases-secret-leases-secret-leases-se-1",
            PAYMENT_PROVIDER_SECRET: "leases-webhook-secret",
            ADMIN_EMAILS: "admin@example.com",
            RATE_LIMIT_ENABLED: "false",
            WEB_UI: "false",
            SHIPPING_SIMULATOR_DELAY: "50 millis",
            PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
            PAYMENT_PROVIDER_URL: `http://127.0.0.1:${apiPort}/sim/payment-provider`,
            LOG_LEVEL: "info",
            PROJECTION_PARTITIONS: "2"
          }
          const api = yield* start({ ...shared, ROLE: "api,simulators" }, apiPort)
          const first = yield* start({ ...shared, ROLE: "workers" })
          const second = yield* start({ ...shared, ROLE: "workers" })
          const workers = [first, second]

          const count = (held: ReadonlyArray<ReadonlyArray<string>>, name: string) =>
            held.filter((names) => names.includes(name)).length
          // The partitions shared out evenly; every other lease held by exactly one process.
          const held = yield* Effect.promise(async () => {
            const deadline = Date.now() + 20_000
            while (true) {
              const held = await Promise.all([first, second, api].map(leasesHeld))
              if (sharedEvenly(held.slice(0, 2)) && singletons.every((name) => count(held, name) === 1)) return held
              if (Date.now() > deadline) throw new Error(`leases not shared out: ${JSON.stringify(held)}`)
              await sleep(100)
            }
          })
          // The victim: the worker with the payment deadlines (and two partitions).
          const victim = held[0]!.includes("payment-timers") ? first : second
          const survivor = victim === first ? second : first
          // `/metrics` tells which leases a process holds.
          const metrics = (server: ServerProcess) =>
            Effect.promise(() => fetch(`${server.url}/metrics`).then((response) => response.text()))
          assert.include(yield* metrics(victim), 'agora_lease_held{lease="payment-timers"} 1')
          assert.include(yield* metrics(survivor), 'agora_lease_held{lease="payment-timers"} 0')
          const users = 4
          const balance = 100_000
          const tokens = yield* Effect.promise(() =>
            Promise.all(Array.from({ length: users }, () => customer(api.url, balance.toFixed(2))))
          )
          const orders: Array<{ readonly id: string; readonly token: string; readonly afterKill: boolean }> = []
          let killed = false
          let stop = false
          const load = Promise.all(
            tokens.map(async (token) => {
              // At most 30 orders each: the SKU's seeded stock (200) covers them all.
              for (let placed = 0; !stop && placed < 30; placed++) {
                const afterKill = killed
                const { id } = await placeOrder(api.url, token)
                orders.push({ id, token, afterKill })
                await sleep(200)
              }
            })
          )

          const outcome = yield* Effect.promise(async () => {
            await sleep(3_000)
            const killedAt = performance.now()
            await victim.kill("SIGKILL")
            killed = true
            let takeoverMs: number | undefined
            while (performance.now() - killedAt < 20_000) {
              const now = await Promise.all([survivor, api].map(leasesHeld))
              if (
                partitions.every((name) => now[0]!.includes(name)) &&
                singletons.every((name) => count(now, name) === 1)
              ) {
                takeoverMs = performance.now() - killedAt
                break
              }
              await sleep(25)
            }
            await sleep(3_000)
            stop = true
            await load
            // Every order, before and after the kill, completes; the first placed after the kill tells how long the
            // saga was away.
            const firstAfter = orders.find((order) => order.afterKill)
            const settleStarted = performance.now()
            await Promise.all(orders.map((order) => awaitStatus(api.url, order.token, order.id, "SHIPPED", 60)))
            return { takeoverMs, firstAfter, settleMs: performance.now() - settleStarted }
          }).pipe(
            Effect.catchDefect((defect) =>
              Effect.sync(() =>
                assert.fail(
                  `${String(defect)}\n${[api, ...workers].map((p) => p.output().slice(-3000)).join("\n---\n")}`
                )
              )
            )
          )
          console.log(
            `Leases: ${orders.length} orders (${orders.filter((o) => o.afterKill).length} placed after the kill); the survivor held the victim's partitions and leases ${outcome.takeoverMs?.toFixed(0)} ms after the kill -9 (LEASE_POLL_INTERVAL 1 s); all SHIPPED ${(outcome.settleMs / 1000).toFixed(1)} s after the load`
          )
          assert.isDefined(outcome.takeoverMs, "the survivor did not take the victim's partitions and leases over")
          assert.isBelow(outcome.takeoverMs!, 5_000)
          assert.isDefined(outcome.firstAfter, "no order was placed after the kill")

          // Exactly one debit per order, and the balances agree with the orders.
          const debits = yield* Effect.flatMap(
            SqlClient.SqlClient,
            (sql) => sql<{ readonly order_id: string; readonly n: string | number }>`
              SELECT data->>'orderId' AS order_id, count(*) AS n FROM events
              WHERE event_type = 'AccountDebited' GROUP BY 1`
          ).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(database), maxConnections: 1 })), Effect.orDie)
          const byOrder = new Map(debits.map((row) => [row.order_id, Number(row.n)]))
          for (const order of orders) assert.strictEqual(byOrder.get(order.id), 1, `debits of order ${order.id}`)
          assert.strictEqual(byOrder.size, orders.length, "a debit for an order nobody placed")
          for (const token of tokens) {
            const account = yield* Effect.promise(() => call(api.url, "GET", "/api/accounts/me", { token }))
            const mine = yield* Effect.promise(() =>
              Promise.all(
                orders
                  .filter((order) => order.token === token)
                  .map((order) => call(api.url, "GET", `/api/orders/${order.id}`, { token }))
              )
            )
            const spent = mine.reduce((sum, order) => sum + Math.round(Number(order.body.total) * 100), 0)
            assert.strictEqual(
              Math.round(Number(account.body.balance) * 100),
              balance * 100 - spent,
              "balance ≠ top-up − orders"
            )
          }
        })
      ),
    180_000
  )
})
