/**
 * Read-your-writes over real HTTP: every write answers the global position of
 * what it wrote (`X-Position`), a replayed idempotent write answers the same
 * one, and a read that passes a position back (`?min_position=` or
 * `X-Min-Position`) is answered from a read model that has applied it — or,
 * past `READ_YOUR_WRITES_TIMEOUT`, with a 503 asking to retry, never with
 * older data. Many clients write and read back at once, each checking that
 * it sees its own write.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { assertProblem, call, makeServer, type Reply } from "./ApiHarness.ts"
import { adminToken, define, freshSku, newCustomer, placeOrder } from "./ShopFixtures.ts"

const timeoutMillis = 300
const clients = 24
const rounds = 3

/** The write's `X-Position`, checked to be a positive whole number. */
const positionOf = (reply: Reply): number => {
  const raw = String(reply.headers["x-position"])
  assert.match(raw, /^[1-9]\d*$/, `X-Position of a ${reply.status} write: ${raw}`)
  return Number(raw)
}

const ok = (reply: Reply, status = 200) => {
  assert.strictEqual(reply.status, status, JSON.stringify(reply.body))
  return reply
}

/** A read that must see `position`, by the query parameter or by the header. */
const readAt = (path: string, position: number, token: string, by: "query" | "header") =>
  by === "query"
    ? call("GET", `${path}${path.includes("?") ? "&" : "?"}min_position=${position}`, { token })
    : call("GET", path, { token, headers: { "x-min-position": String(position) } })

/** A read that asks for no position (`0`): what the read model holds right now. */
const readNow = (path: string, token: string) => call("GET", path, { token, headers: { "x-min-position": "0" } })

layer(makeServer("api-ryw", { config: { READ_YOUR_WRITES_TIMEOUT: `${timeoutMillis} millis` } }), {
  excludeTestServices: true,
  timeout: "120 seconds"
})("read-your-writes over HTTP", (it) => {
  describe("X-Position", () => {
    it.effect("every write answers the position of its last event, increasing from write to write", () =>
      Effect.gen(function* () {
        const admin = yield* adminToken
        const sku = freshSku("RYW")
        yield* define(sku, 10_00, 5)
        const { token } = yield* newCustomer()
        const positions = [
          positionOf(ok(yield* call("POST", "/api/accounts", { token }), 201)),
          positionOf(ok(yield* call("POST", "/api/accounts/me/top-up", { token, json: { amount: "50.00" } }))),
          positionOf(ok(yield* call("POST", "/api/accounts/me/top-up", { token, json: { amount: "1.00" } })))
        ]
        const placed = ok(
          yield* call("POST", "/api/orders", {
            token,
            json: { items: [{ sku, quantity: 2 }], payment_method: "account" }
          }),
          202
        )
        positions.push(positionOf(placed))
        const reserved = ok(
          yield* call("PATCH", `/api/orders/${placed.body.id}`, { token: admin, json: { status: "RESERVED" } })
        )
        positions.push(positionOf(reserved))
        positions.push(
          positionOf(
            ok(yield* call("POST", `/api/admin/inventory/${sku}/restock`, { token: admin, json: { quantity: 3 } }))
          )
        )
        for (let i = 1; i < positions.length; i++) {
          assert.isAbove(positions[i]!, positions[i - 1]!, `write ${i} answers a later position: ${positions}`)
        }
        // The position is that of the event the write made, as the order's history shows.
        const history = ok(yield* call("GET", `/api/orders/${placed.body.id}/events`, { token }))
        assert.deepStrictEqual(
          history.body.data.map((e: { type: string; position: number }) => [e.type, e.position]),
          [
            ["OrderPlaced", positions[3]],
            ["OrderReserved", positions[4]]
          ]
        )
        // Reads answer no position of their own.
        const read = ok(yield* readAt(`/api/orders/${placed.body.id}`, positions[4]!, token, "query"))
        assert.strictEqual(read.body.status, "RESERVED")
        assert.isUndefined(read.headers["x-position"])
      })
    )

    it.effect("a replayed idempotent write answers the position the first answer had", () =>
      Effect.gen(function* () {
        const sku = freshSku("RYW")
        yield* define(sku, 2_00, 10)
        const { token } = yield* newCustomer()
        ok(yield* call("POST", "/api/accounts", { token }), 201)

        const topUpKey = randomUUID()
        const topUp = () =>
          call("POST", "/api/accounts/me/top-up", {
            token,
            json: { amount: "7.00" },
            headers: { "idempotency-key": topUpKey }
          })
        const first = ok(yield* topUp())
        const later = positionOf(
          ok(yield* call("POST", "/api/accounts/me/top-up", { token, json: { amount: "1.00" } }))
        )
        const replay = ok(yield* topUp())
        assert.strictEqual(replay.headers["x-position"], first.headers["x-position"])
        assert.isBelow(positionOf(replay), later)
        assert.deepStrictEqual(replay.body, first.body)
        // Applied once: 7 + 1.
        assert.strictEqual(ok(yield* readAt("/api/accounts/me", later, token, "query")).body.balance, "8.00")

        const orderKey = randomUUID()
        const place = () =>
          call("POST", "/api/orders", {
            token,
            json: { items: [{ sku, quantity: 1 }], payment_method: "account" },
            headers: { "idempotency-key": orderKey }
          })
        const placed = ok(yield* place(), 202)
        yield* placeOrder(token, [{ sku, quantity: 1 }])
        const again = ok(yield* place(), 202)
        assert.strictEqual(again.headers["x-position"], placed.headers["x-position"])
        assert.strictEqual(again.body.id, placed.body.id)
      })
    )
  })

  describe("min_position", () => {
    it.effect(`${clients} clients writing at once each read their own writes`, () =>
      Effect.gen(function* () {
        const admin = yield* adminToken
        const shared = [freshSku("RYW"), freshSku("RYW"), freshSku("RYW")]
        for (const sku of shared) yield* define(sku, 3_00, 1_000)
        let reads = 0
        let staleWithout = 0

        const client = (n: number) =>
          Effect.gen(function* () {
            const { token, id: userId } = yield* newCustomer()
            ok(yield* call("POST", "/api/accounts", { token }), 201)
            const own = freshSku("RYW")
            yield* define(own, 1_00, 10)
            const mine: Array<string> = []
            for (let round = 0; round < rounds; round++) {
              const by = (n + round) % 2 === 0 ? "query" : "header"

              // A top-up, then the account and its ledger.
              const topUp = ok(
                yield* call("POST", "/api/accounts/me/top-up", { token, json: { amount: `${n + 1}.${round}0` } })
              )
              const afterTopUp = positionOf(topUp)
              const before = yield* readNow("/api/accounts/me", token)
              if (before.body.balance !== topUp.body.balance) staleWithout++
              const account = ok(yield* readAt("/api/accounts/me", afterTopUp, token, by))
              assert.deepStrictEqual(account.body, topUp.body, `client ${n} round ${round}: account`)
              const ledger = ok(yield* readAt("/api/accounts/me/transactions?limit=1", afterTopUp, token, by))
              assert.deepStrictEqual(
                ledger.body.data.map((t: { kind: string; amount: string; balance_after: string }) => [
                  t.kind,
                  t.amount,
                  t.balance_after
                ]),
                [["top_up", `${n + 1}.${round}0`, topUp.body.balance]],
                `client ${n} round ${round}: ledger`
              )

              // An order, then the order and the caller's list of orders.
              const sku = shared[(n + round) % shared.length]!
              const placed = ok(
                yield* call("POST", "/api/orders", {
                  token,
                  json: { items: [{ sku, quantity: round + 1 }], payment_method: "account" }
                }),
                202
              )
              const afterPlace = positionOf(placed)
              mine.unshift(placed.body.id)
              const listedBefore = yield* readNow("/api/orders?limit=100", token)
              if (listedBefore.body.data.length !== mine.length) staleWithout++
              const order = ok(yield* readAt(`/api/orders/${placed.body.id}`, afterPlace, token, by))
              assert.deepStrictEqual(
                [order.body.id, order.body.user_id, order.body.status, order.body.version],
                [placed.body.id, userId, "PENDING", 1]
              )
              const listed = ok(yield* readAt("/api/orders?limit=100", afterPlace, token, by))
              assert.deepStrictEqual(
                listed.body.data.map((o: { id: string }) => o.id),
                mine,
                `client ${n} round ${round}: orders`
              )

              // An admin restock of the client's own SKU, then its stock and its product page.
              const restock = ok(
                yield* call("POST", `/api/admin/inventory/${own}/restock`, {
                  token: admin,
                  json: { quantity: n + round + 1 }
                })
              )
              const afterRestock = positionOf(restock)
              const stockBefore = yield* readNow(`/api/admin/inventory/${own}`, admin)
              if (stockBefore.body.on_hand !== restock.body.on_hand) staleWithout++
              const stock = ok(yield* readAt(`/api/admin/inventory/${own}`, afterRestock, admin, by))
              assert.deepStrictEqual(stock.body, { ...restock.body, shipped: 0 }, `client ${n} round ${round}: stock`)
              const product = ok(yield* readAt(`/api/products/${own}`, afterRestock, token, by))
              assert.strictEqual(product.body.available, restock.body.available)
              reads += 6
            }
          })

        yield* Effect.forEach(
          Array.from({ length: clients }, (_, n) => n),
          client,
          { concurrency: "unbounded", discard: true }
        )
        assert.strictEqual(reads, clients * rounds * 6)
        console.log(
          `read-your-writes: ${reads} reads with min_position all saw their write; ` +
            `${staleWithout} of ${clients * rounds * 3} reads without it did not (yet)`
        )
      })
    )

    it.effect("a malformed min_position is a 400 problem, in the query or the header", () =>
      Effect.gen(function* () {
        const { token } = yield* newCustomer()
        for (const path of ["/api/accounts/me", "/api/orders", "/api/products"]) {
          for (const bad of ["abc", "-1", "1.5", "", "1e3", "0x10", "99999999999999999999"]) {
            const query = yield* call("GET", `${path}?min_position=${encodeURIComponent(bad)}`, { token })
            assertProblem(query, 400, "invalid_min_position")
            assert.deepStrictEqual(query.body.errors[0].path, ["query", "min_position"])
            if (bad === "") continue
            const header = yield* call("GET", path, { token, headers: { "x-min-position": bad } })
            assertProblem(header, 400, "invalid_min_position")
          }
        }
      })
    )

    it.effect("a position far ahead of the log is a 503 with Retry-After once the configured timeout has passed", () =>
      Effect.gen(function* () {
        const { token } = yield* newCustomer()
        ok(yield* call("POST", "/api/accounts", { token }), 201)
        const sku = freshSku("RYW")
        yield* define(sku, 1_00, 1)
        const ahead = 1_000_000_000_000
        for (const [path, by] of [
          ["/api/accounts/me", "query"],
          ["/api/orders", "header"],
          [`/api/products/${sku}`, "query"],
          ["/api/products", "header"]
        ] as const) {
          const started = yield* Clock.currentTimeMillis
          const reply = yield* readAt(path, ahead, token, by)
          const waited = (yield* Clock.currentTimeMillis) - started
          assertProblem(reply, 503, "read_model_behind")
          assert.strictEqual(reply.headers["retry-after"], "1")
          assert.isAtLeast(waited, timeoutMillis - 20, `${path} waited ${waited} ms`)
          assert.isBelow(waited, 1_500, `${path} gave up after the configured ${timeoutMillis} ms, not the default`)
        }
        // A read at a position the log has reached is answered at once.
        const current = positionOf(
          ok(yield* call("POST", "/api/accounts/me/top-up", { token, json: { amount: "2.00" } }))
        )
        const started = yield* Clock.currentTimeMillis
        const reply = ok(yield* readAt("/api/accounts/me", current, token, "query"))
        assert.strictEqual(reply.body.balance, "2.00")
        assert.isBelow((yield* Clock.currentTimeMillis) - started, timeoutMillis)
      })
    )
  })
})
