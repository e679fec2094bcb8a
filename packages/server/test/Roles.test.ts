/**
 * `ROLE`: the same server split into the processes of a scaled deployment —
 * an API, the workers and the simulators, on one PostgreSQL, Redis and
 * RabbitMQ — gives the whole order flow, and each process serves only what
 * its role says.
 */
import { randomUUID } from "node:crypto"
import { makeRedisStore } from "@agora/readmodels/testing"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as Roles from "../src/Roles.ts"
import { call, freePort, type ServerProcess, start } from "./ServerProcess.ts"

const parse = (value: string | undefined) =>
  Effect.result(Roles.config.parse(ConfigProvider.fromUnknown(value === undefined ? {} : { ROLE: value })))

describe("ROLE", () => {
  it.effect("is every role by default (unset or empty), and any comma-separated set of them", () =>
    Effect.gen(function* () {
      for (const [value, expected] of [
        [undefined, ["api", "simulators", "workers"]],
        ["all", ["api", "simulators", "workers"]],
        // Empty counts as unset, as for every other variable.
        ["", ["api", "simulators", "workers"]],
        ["api", ["api"]],
        [" workers , simulators ", ["simulators", "workers"]],
        ["api,all", ["api", "simulators", "workers"]]
      ] as const) {
        const parsed = yield* parse(value)
        assert.isTrue(parsed._tag === "Success", `ROLE=${value}`)
        if (parsed._tag === "Success")
          assert.deepStrictEqual([...parsed.success].sort(), [...expected], `ROLE=${value}`)
      }
    })
  )

  it.effect("refuses anything else, naming the roles", () =>
    Effect.gen(function* () {
      for (const value of ["apis", "api;workers", "api,", "web"]) {
        const parsed = yield* parse(value)
        assert.isTrue(parsed._tag === "Failure", `ROLE=${JSON.stringify(value)} was accepted`)
        if (parsed._tag === "Failure") assert.include(parsed.failure.message, "comma-separated list", value)
      }
    })
  )
})

const redisUrl = process.env.REDIS_URL
const amqpUrl = process.env.AMQP_URL
const missing = [redisUrl ? undefined : "REDIS_URL", amqpUrl ? undefined : "AMQP_URL"].filter(Boolean)
if (missing.length > 0) {
  console.warn(
    `Roles.test: the split deployment is skipped: ${missing.join(" and ")} not set (a real Redis and broker are needed)`
  )
}

/** Polls the order until it has `status`. */
const reaches = (server: ServerProcess, token: string, id: string, status: string, others: ServerProcess[]) =>
  Effect.promise(async () => {
    const deadline = Date.now() + 20_000
    let last: unknown
    while (Date.now() < deadline) {
      const reply = await call(server.url, "GET", `/api/orders/${id}`, { token })
      last = reply.body
      if (reply.body?.status === status) return reply.body
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const logs = [server, ...others].map((process) => process.output().slice(-2000)).join("\n---\n")
    return assert.fail(`order ${id} did not reach ${status}: ${JSON.stringify(last)}\n${logs}`)
  })

describe.skipIf(missing.length > 0)("a deployment split by ROLE", () => {
  it.live(
    "an API, the workers and the simulators in three processes take card and account orders to SHIPPED",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const database = yield* TestDatabase.create("roles")
          const { prefix } = yield* makeRedisStore(redisUrl!)
          const [apiPort, simulatorsPort] = yield* Effect.promise(() => Promise.all([freePort(), freePort()]))
          const shared = {
            DATABASE_URL: database,
            REDIS_URL: redisUrl!,
            READ_MODEL_PREFIX: prefix,
            KAFKA_BROKERS: "",
            AMQP_URL: amqpUrl!,
            AMQP_EXCHANGE: `agora-roles-${randomUUID()}`,
            JWT_SECRET: "roles-secret-roles-secret-roles-secret-1",
            PAYMENT_PROVIDER_SECRET: "roles-webhook-secret",
            ADMIN_EMAILS: "admin@example.com",
            RATE_LIMIT_ENABLED: "false",
            PAYMENT_SIMULATOR_DELAY: "20 millis",
            SHIPPING_SIMULATOR_DELAY: "50 millis",
            PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
            PAYMENT_PROVIDER_URL: `http://127.0.0.1:${simulatorsPort}/sim/payment-provider`
          }
          // The simulators need neither the database nor Redis.
          const simulators = yield* start(
            { ...shared, ROLE: "simulators", DATABASE_URL: "", REDIS_URL: "" },
            simulatorsPort,
            "/api/health"
          )
          const api = yield* start({ ...shared, ROLE: "api" }, apiPort)
          const workers = yield* start({ ...shared, ROLE: "workers" })
          const all = [api, workers, simulators]

          // Each serves what its role says.
          assert.strictEqual((yield* Effect.promise(() => call(workers.url, "GET", "/api/products"))).status, 404)
          assert.strictEqual((yield* Effect.promise(() => call(simulators.url, "GET", "/api/products"))).status, 404)
          assert.strictEqual(
            (yield* Effect.promise(() => call(api.url, "POST", "/sim/payment-provider/payments"))).status,
            404
          )
          for (const process of all) {
            const metrics = yield* Effect.promise(() => call(process.url, "GET", "/metrics"))
            assert.strictEqual(metrics.status, 200, process.url)
          }
          const workersReady = yield* Effect.promise(() => call(workers.url, "GET", "/api/ready"))
          assert.strictEqual(workersReady.status, 200, JSON.stringify(workersReady.body))

          const email = `roles-${randomUUID().slice(0, 8)}@example.com`
          yield* Effect.promise(() =>
            call(api.url, "POST", "/api/auth/register", { json: { email, password: "correct horse battery" } })
          )
          const token = (yield* Effect.promise(() =>
            call(api.url, "POST", "/api/auth/token", { json: { username: email, password: "correct horse battery" } })
          )).body.access_token as string
          yield* Effect.promise(() => call(api.url, "POST", "/api/accounts", { token }))
          yield* Effect.promise(() =>
            call(api.url, "POST", "/api/accounts/me/top-up", { token, json: { amount: "5000.00" } })
          )

          const byAccount = yield* Effect.promise(() =>
            call(api.url, "POST", "/api/orders", {
              token,
              json: { items: [{ sku: "OIL-FLT-003", quantity: 1 }], payment_method: "account" }
            })
          )
          assert.strictEqual(byAccount.status, 202, JSON.stringify(byAccount.body))
          const byCard = yield* Effect.promise(() =>
            call(api.url, "POST", "/api/orders", {
              token,
              json: { items: [{ sku: "OIL-FLT-003", quantity: 2 }], payment_method: "card", card_token: "tok_ok" }
            })
          )
          assert.strictEqual(byCard.status, 202, JSON.stringify(byCard.body))

          yield* reaches(api, token, byAccount.body.id, "SHIPPED", [workers, simulators])
          yield* reaches(api, token, byCard.body.id, "SHIPPED", [workers, simulators])

          // The projections ran in the workers (the API does not run them with Redis set) and the API reads them.
          const account = yield* Effect.promise(() => call(api.url, "GET", "/api/accounts/me", { token }))
          assert.strictEqual(account.body.balance, (5000 - Number(byAccount.body.total)).toFixed(2))
          const apiReady = yield* Effect.promise(() => call(api.url, "GET", "/api/ready"))
          assert.strictEqual(apiReady.status, 200, JSON.stringify(apiReady.body))
          assert.include(api.output(), "Role: api")
          assert.include(workers.output(), "Role: workers")
        })
      ),
    90_000
  )
})
