/**
 * SIGTERM with live order status connections open: the streams end at once
 * (the WebSocket with 1001 "going away"), so the process stops in a moment
 * instead of waiting out the HTTP server's 20 s grace for them.
 */
import { randomUUID } from "node:crypto"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { call, start } from "./ServerProcess.ts"

describe("stopping the server", () => {
  it.live(
    "ends open SSE and WebSocket status streams on SIGTERM and exits promptly",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const database = yield* TestDatabase.create("shutdown")
          const server = yield* start({
            DATABASE_URL: database,
            REDIS_URL: "",
            AMQP_URL: "",
            KAFKA_BROKERS: "",
            JWT_SECRET: "stop-secret-stop-secret-stop-secret-stop",
            PAYMENT_PROVIDER_SECRET: "stop-webhook-secret",
            ADMIN_EMAILS: "admin@example.com",
            RATE_LIMIT_ENABLED: "false"
          })
          const email = `stop-${randomUUID().slice(0, 8)}@example.com`
          yield* Effect.promise(() =>
            call(server.url, "POST", "/api/auth/register", { json: { email, password: "correct horse battery" } })
          )
          const token = (yield* Effect.promise(() =>
            call(server.url, "POST", "/api/auth/token", {
              json: { username: email, password: "correct horse battery" }
            })
          )).body.access_token as string
          // tok_timeout: the provider never answers, so the order stays open for the whole test.
          const placed = yield* Effect.promise(() =>
            call(server.url, "POST", "/api/orders", {
              token,
              json: { items: [{ sku: "OIL-FLT-003", quantity: 1 }], payment_method: "card", card_token: "tok_timeout" }
            })
          )
          assert.strictEqual(placed.status, 202, JSON.stringify(placed.body))
          const orderId = placed.body.id as string

          const sse = yield* Effect.promise(() =>
            fetch(`${server.url}/api/orders/${orderId}/live`, { headers: { authorization: `Bearer ${token}` } })
          )
          assert.strictEqual(sse.status, 200)
          const reader = sse.body!.getReader()
          const first = yield* Effect.promise(() => reader.read())
          assert.include(new TextDecoder().decode(first.value), orderId)
          const sseEnded = (async () => {
            while (!(await reader.read()).done) {}
            return "ended"
          })().catch(() => "cut")

          const socket = new WebSocket(
            `${server.url.replace("http", "ws")}/api/ws/orders/${orderId}?access_token=${token}`
          )
          const firstMessage = new Promise<string>((resolve, reject) => {
            socket.addEventListener("message", (event) => resolve(String(event.data)), { once: true })
            socket.addEventListener("error", () => reject(new Error("WebSocket error")), { once: true })
          })
          const closed = new Promise<{ code: number; reason: string }>((resolve) =>
            socket.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason }), {
              once: true
            })
          )
          assert.include(yield* Effect.promise(() => firstMessage), orderId)

          const began = Date.now()
          yield* Effect.promise(() => server.kill("SIGTERM"))
          const took = Date.now() - began
          assert.isBelow(took, 8_000, `the server took ${took} ms to stop\n${server.output().slice(-2000)}`)
          assert.strictEqual(yield* Effect.promise(() => sseEnded), "ended")
          const close = yield* Effect.promise(() => closed)
          assert.strictEqual(close.code, 1001, JSON.stringify(close))
        })
      ),
    60_000
  )
})
