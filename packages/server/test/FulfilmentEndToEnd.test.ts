/**
 * Every path of SPEC §5 end to end, through HTTP against the real server
 * process (embedded defaults: in-process broker and cache, the built-in
 * payment provider and shipping service, with short delays): account and
 * card payments to SHIPPED, and each way an order ends CANCELLED with what
 * it had taken given back.
 */
import { randomUUID } from "node:crypto"
import { Orders } from "@agora/app"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { call, type ServerProcess, start } from "./ServerProcess.ts"

class Server extends Context.Service<Server, ServerProcess>()("test/Server") {}

const cancelSku = "WPR-BLD-600-008"

const ServerLive = Layer.effect(
  Server,
  Effect.gen(function* () {
    const database = yield* TestDatabase.create("e2e-fulfilment")
    return yield* start({
      DATABASE_URL: database,
      REDIS_URL: "",
      AMQP_URL: "",
      KAFKA_BROKERS: "",
      JWT_SECRET: "e2e-secret-e2e-secret-e2e-secret-e2e!",
      PAYMENT_PROVIDER_SECRET: "e2e-webhook-secret",
      ADMIN_EMAILS: "admin@example.com",
      PAYMENT_TIMEOUT: "1500 millis",
      PAYMENT_SIMULATOR_DELAY: "20 millis",
      PAYMENT_SIMULATOR_SLOW_DELAY: "2 seconds",
      SHIPPING_SIMULATOR_DELAY: "50 millis",
      SHIPPING_SIMULATOR_CANCEL_SKUS: cancelSku,
      RATE_LIMIT_CAPACITY: "1000000",
      RATE_LIMIT_REFILL_PER_SECOND: "1000000"
    })
  })
)

const api = (method: string, path: string, options: { token?: string; json?: unknown } = {}) =>
  Effect.flatMap(Server, (server) => Effect.promise(() => call(server.url, method, path, options)))

/** A new customer with an account holding `balance` ("0.00" for none topped up); returns the token. */
const customer = (balance: string | undefined) =>
  Effect.gen(function* () {
    const email = `e2e-${randomUUID().slice(0, 8)}@example.com`
    yield* api("POST", "/api/auth/register", { json: { email, password: "correct horse battery" } })
    const token = (yield* api("POST", "/api/auth/token", {
      json: { username: email, password: "correct horse battery" }
    })).body.access_token as string
    if (balance !== undefined) {
      yield* api("POST", "/api/accounts", { token })
      if (balance !== "0.00") yield* api("POST", "/api/accounts/me/top-up", { token, json: { amount: balance } })
    }
    return token
  })

const order = (token: string, json: unknown) =>
  Effect.gen(function* () {
    const reply = yield* api("POST", "/api/orders", { token, json })
    assert.strictEqual(reply.status, 202, JSON.stringify(reply.body))
    return reply.body as { id: string; total: string }
  })

/** Polls the order until it has `status` (10 s at most). */
const reaches = (token: string, id: string, status: string) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 10_000
    while (true) {
      const reply = yield* api("GET", `/api/orders/${id}`, { token })
      if (reply.body.status === status) return reply.body
      if (Date.now() > deadline) {
        const server = yield* Server
        return assert.fail(`order ${id} is ${reply.body.status}, not ${status}\n${server.output().slice(-3000)}`)
      }
      yield* Effect.sleep("25 millis")
    }
  })

const balance = (token: string) => Effect.map(api("GET", "/api/accounts/me", { token }), (r) => r.body.balance)

layer(ServerLive, { excludeTestServices: true, timeout: "180 seconds" })("SPEC §5 end to end", (it) => {
  describe("to SHIPPED", () => {
    it.effect("account payment: PENDING → … → SHIPPED, debited once, history complete", () =>
      Effect.gen(function* () {
        const token = yield* customer("10000.00")
        const placed = yield* order(token, {
          items: [
            { sku: "OIL-FLT-003", quantity: 2 },
            { sku: "SPK-PLG-IR-006", quantity: 4 }
          ],
          payment_method: "account"
        })
        const shipped = yield* reaches(token, placed.id, "SHIPPED")
        assert.isString(shipped.tracking_number)
        assert.strictEqual(yield* balance(token), (10000 - Number(placed.total)).toFixed(2))
        const history = yield* api("GET", `/api/orders/${placed.id}/events`, { token })
        assert.deepStrictEqual(
          history.body.data.map((e: { type: string }) => e.type),
          ["OrderPlaced", "OrderReserved", "OrderPaid", "OrderShipped"]
        )
        const payment = yield* api("GET", `/api/payments/${shipped.payment_id}`, { token })
        assert.strictEqual(payment.body.status, "succeeded")
        const shipment = yield* api("GET", `/api/shipments/${shipped.shipment_id}`, { token })
        assert.strictEqual(shipment.body.status, "shipped")
      })
    )

    it.effect("card payment (tok_ok): the provider calls back, then SHIPPED", () =>
      Effect.gen(function* () {
        const token = yield* customer(undefined)
        const placed = yield* order(token, {
          items: [{ sku: "AIR-FLT-004", quantity: 1 }],
          payment_method: "card",
          card_token: "tok_ok"
        })
        const shipped = yield* reaches(token, placed.id, "SHIPPED")
        assert.strictEqual(
          (yield* api("GET", `/api/payments/${shipped.payment_id}`, { token })).body.status,
          "succeeded"
        )
      })
    )
  })

  describe("to CANCELLED, compensated", () => {
    const cancelledWith = (token: string, id: string, reason: string) =>
      Effect.map(reaches(token, id, "CANCELLED"), (o) => assert.strictEqual(o.status_reason, reason))

    it.effect("out of stock", () =>
      Effect.gen(function* () {
        const token = yield* customer("100000.00")
        const placed = yield* order(token, {
          items: [{ sku: "BAT-60AH-010", quantity: 99 }],
          payment_method: "account"
        })
        yield* cancelledWith(token, placed.id, "out_of_stock")
        assert.strictEqual(yield* balance(token), "100000.00")
      })
    )

    it.effect("insufficient funds", () =>
      Effect.gen(function* () {
        const token = yield* customer("1.00")
        const placed = yield* order(token, { items: [{ sku: "OIL-FLT-003", quantity: 1 }], payment_method: "account" })
        yield* cancelledWith(token, placed.id, "insufficient_funds")
        assert.strictEqual(yield* balance(token), "1.00")
      })
    )

    it.effect("card declined (tok_decline)", () =>
      Effect.gen(function* () {
        const token = yield* customer(undefined)
        const placed = yield* order(token, {
          items: [{ sku: "OIL-FLT-003", quantity: 1 }],
          payment_method: "card",
          card_token: "tok_decline"
        })
        yield* cancelledWith(token, placed.id, "payment_declined")
      })
    )

    it.effect("no answer from the provider (tok_timeout): the payment times out", () =>
      Effect.gen(function* () {
        const token = yield* customer(undefined)
        const placed = yield* order(token, {
          items: [{ sku: "OIL-FLT-003", quantity: 1 }],
          payment_method: "card",
          card_token: "tok_timeout"
        })
        const cancelled = yield* reaches(token, placed.id, "CANCELLED")
        assert.strictEqual(cancelled.status_reason, "payment_timeout")
      })
    )

    it.effect("the shipping service cancels: refunded", () =>
      Effect.gen(function* () {
        const token = yield* customer("5000.00")
        const placed = yield* order(token, { items: [{ sku: cancelSku, quantity: 1 }], payment_method: "account" })
        yield* cancelledWith(token, placed.id, "shipping_cancelled")
        assert.strictEqual(yield* balance(token), "5000.00")
      })
    )

    it.effect("the owner cancels while the card payment is pending (tok_slow); the late success is refunded", () =>
      Effect.gen(function* () {
        const token = yield* customer(undefined)
        const placed = yield* order(token, {
          items: [{ sku: "OIL-FLT-003", quantity: 1 }],
          payment_method: "card",
          card_token: "tok_slow"
        })
        yield* reaches(token, placed.id, "RESERVED")
        const cancel = yield* api("POST", `/api/orders/${placed.id}/cancel`, { token })
        assert.strictEqual(cancel.status, 202, JSON.stringify(cancel.body))
        yield* cancelledWith(token, placed.id, "cancelled_by_user")
        // The provider's success arrives after the cancellation (2 s): the money goes back.
        const paymentId = Orders.paymentIdOf(placed.id)
        const deadline = Date.now() + 10_000
        let status = ""
        while (status !== "refunded" && Date.now() < deadline) {
          yield* Effect.sleep("100 millis")
          status = (yield* api("GET", `/api/payments/${paymentId}`, { token })).body.status
        }
        assert.strictEqual(status, "refunded")
      })
    )
  })
})
