/**
 * A keyed write whose first run committed but whose answer was lost with the
 * process (the key still marked in flight, its lease expired) runs again when
 * the client retries — and finds its writes done: one top-up, one order, not
 * two. The crash is reproduced exactly by putting the key back in the state
 * a SIGKILL between commit and `complete` leaves it in.
 */
import { randomUUID } from "node:crypto"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { connect } from "./chaos/EventLog.ts"
import { start } from "./ServerProcess.ts"

const keyed = (url: string, path: string, token: string, key: string, json: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(json)
    })
    return {
      status: response.status,
      replayed: response.headers.get("idempotent-replayed"),
      // biome-ignore lint/suspicious/noExplicitAny: the test reads whatever JSON came back
      body: (await response.json()) as any
    }
  })

const get = (url: string, path: string, token: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } })
    // biome-ignore lint/suspicious/noExplicitAny: the test reads whatever JSON came back
    return (await response.json()) as any
  })

describe("a keyed write run again after a crash lost its answer", () => {
  it.live(
    "takes effect once: the same top-up and the same order, not a second of each",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const database = yield* TestDatabase.create("idem-crash")
          const server = yield* start({
            DATABASE_URL: database,
            REDIS_URL: "",
            AMQP_URL: "",
            KAFKA_BROKERS: "",
            JWT_SECRET: "idem-secret-idem-secret-idem-secret-idem",
            PAYMENT_PROVIDER_SECRET: "idem-webhook-secret",
            ADMIN_EMAILS: "admin@example.com",
            RATE_LIMIT_ENABLED: "false",
            SHIPPING_SIMULATOR: "off"
          })
          const sql = connect(database)
          yield* Effect.addFinalizer(() => Effect.promise(() => sql.close()))
          /** What a SIGKILL after the commit and before the answer was stored leaves, once the lease ran out. */
          const loseAnswer = (key: string) =>
            Effect.promise(() =>
              sql.query(
                "UPDATE idempotency_keys SET completed_at = NULL, response_status = NULL, response_headers = NULL, response_body = NULL, lease_id = gen_random_uuid(), locked_until = now() - interval '1 second' WHERE key = $1",
                [key]
              )
            )

          const email = `idem-${randomUUID().slice(0, 8)}@example.com`
          const password = "correct horse battery"
          yield* Effect.promise(() =>
            fetch(`${server.url}/api/auth/register`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ email, password })
            })
          )
          const login = yield* Effect.promise(async () => {
            const response = await fetch(`${server.url}/api/auth/token`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ username: email, password })
            })
            return (await response.json()) as { access_token: string }
          })
          const token = login.access_token
          yield* Effect.promise(() =>
            fetch(`${server.url}/api/accounts`, { method: "POST", headers: { authorization: `Bearer ${token}` } })
          )

          const topUpKey = `top-up-${randomUUID()}`
          const first = yield* keyed(server.url, "/api/accounts/me/top-up", token, topUpKey, { amount: "100.00" })
          assert.strictEqual(first.status, 200, JSON.stringify(first.body))
          yield* loseAnswer(topUpKey)
          const again = yield* keyed(server.url, "/api/accounts/me/top-up", token, topUpKey, { amount: "100.00" })
          assert.strictEqual(again.status, 200, JSON.stringify(again.body))
          assert.isNull(again.replayed, "the retry ran again (the key had no stored answer)")
          const account = yield* get(server.url, "/api/accounts/me", token)
          assert.strictEqual(account.balance, "100.00")
          const ledger = yield* get(server.url, "/api/accounts/me/transactions?limit=100", token)
          assert.strictEqual(ledger.data.length, 1, JSON.stringify(ledger.data))

          const orderKey = `order-${randomUUID()}`
          const order = {
            items: [{ sku: "OIL-FLT-003", quantity: 1 }],
            payment_method: "card",
            card_token: "tok_timeout"
          }
          const placed = yield* keyed(server.url, "/api/orders", token, orderKey, order)
          assert.strictEqual(placed.status, 202, JSON.stringify(placed.body))
          yield* loseAnswer(orderKey)
          const placedAgain = yield* keyed(server.url, "/api/orders", token, orderKey, order)
          assert.strictEqual(placedAgain.status, 202, JSON.stringify(placedAgain.body))
          assert.strictEqual(placedAgain.body.id, placed.body.id)
          const orders = yield* Effect.promise(() =>
            sql.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE event_type = 'OrderPlaced'")
          )
          assert.strictEqual(Number(orders[0]!.n), 1)
        })
      ),
    60_000
  )
})
