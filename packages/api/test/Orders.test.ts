import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { assertProblem, call, makeServer, type Reply } from "./ApiHarness.ts"
import { adminToken, define, freshSku, newCustomer, placeOrder, statusOf } from "./ShopFixtures.ts"

layer(makeServer("api-orders"), { excludeTestServices: true, timeout: "120 seconds" })("orders over HTTP", (it) => {
  describe("POST /api/orders", () => {
    it.effect("prices the order from the catalog and answers 202 PENDING", () =>
      Effect.gen(function* () {
        const [a, b] = [freshSku(), freshSku()]
        yield* define(a, 1_250_50)
        yield* define(b, 99)
        const { token, id: userId } = yield* newCustomer()
        const reply = yield* call("POST", "/api/orders", {
          token,
          json: {
            items: [
              { sku: a, quantity: 2 },
              { sku: b, quantity: 3 }
            ],
            payment_method: "account"
          }
        })
        assert.strictEqual(reply.status, 202, JSON.stringify(reply.body))
        const order = reply.body
        assert.match(order.id, /^[0-9a-f-]{36}$/)
        assert.strictEqual(order.status, "PENDING")
        assert.strictEqual(order.user_id, userId)
        assert.deepStrictEqual(order.items, [
          { sku: a, name: `Part ${a}`, quantity: 2, unit_price: "1250.50", line_total: "2501.00" },
          { sku: b, name: `Part ${b}`, quantity: 3, unit_price: "0.99", line_total: "2.97" }
        ])
        assert.strictEqual(order.total, "2503.97")
        assert.strictEqual(order.currency, "RUB")
        assert.strictEqual(order.payment_method, "account")
        assert.isNull(order.status_reason)
        assert.isNull(order.payment_id)
        assert.strictEqual(order.version, 1)
        assert.isString(order.created_at)
      })
    )

    it.effect("accepts a total_price that agrees, as a string or a number; 422 when it disagrees", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 10_00)
        const { token } = yield* newCustomer()
        const items = [{ sku, quantity: 2 }]
        for (const total_price of ["20.00", 20, "20"]) {
          const ok = yield* call("POST", "/api/orders", {
            token,
            json: { items, payment_method: "account", total_price }
          })
          assert.strictEqual(ok.status, 202, JSON.stringify(ok.body))
        }
        const wrong = yield* call("POST", "/api/orders", {
          token,
          json: { items, payment_method: "account", total_price: "19.99" }
        })
        assertProblem(wrong, 422, "invalid_order")
        assert.deepStrictEqual(wrong.body.errors[0].path, ["payload", "total_price"])
        assert.include(wrong.body.errors[0].message, "20.00")
      })
    )

    it.effect("ignores client-set status, total, user_id and balance (mass assignment)", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 5_00)
        const { token, id } = yield* newCustomer()
        const reply = yield* call("POST", "/api/orders", {
          token,
          json: {
            items: [{ sku, quantity: 1, unit_price: "0.01" }],
            payment_method: "account",
            status: "PAID",
            total: "0.01",
            user_id: "someone-else",
            balance: "1000000.00",
            id: "00000000-0000-0000-0000-000000000000"
          }
        })
        assert.strictEqual(reply.status, 202)
        assert.strictEqual(reply.body.status, "PENDING")
        assert.strictEqual(reply.body.total, "5.00")
        assert.strictEqual(reply.body.user_id, id)
        assert.strictEqual(reply.body.items[0].unit_price, "5.00")
        assert.notStrictEqual(reply.body.id, "00000000-0000-0000-0000-000000000000")
      })
    )

    it.effect("refuses, with the offending field's path, what cannot make an order", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 1_00)
        const { token } = yield* newCustomer()
        const line = { sku, quantity: 1 }
        const cases: ReadonlyArray<[string, unknown, string]> = [
          [
            "unknown sku",
            { items: [{ sku: "NO-SUCH-SKU", quantity: 1 }], payment_method: "account" },
            "payload.items.0.sku"
          ],
          ["repeated sku", { items: [line, line], payment_method: "account" }, "payload.items.1.sku"],
          ["quantity 0", { items: [{ sku, quantity: 0 }], payment_method: "account" }, "payload.items.0.quantity"],
          ["quantity 101", { items: [{ sku, quantity: 101 }], payment_method: "account" }, "payload.items.0.quantity"],
          ["quantity 1.5", { items: [{ sku, quantity: 1.5 }], payment_method: "account" }, "payload.items.0.quantity"],
          ["no items", { items: [], payment_method: "account" }, "payload.items"],
          [
            "51 items",
            {
              items: Array.from({ length: 51 }, (_, i) => ({ sku: `S-${i}`, quantity: 1 })),
              payment_method: "account"
            },
            "payload.items"
          ],
          ["card without token", { items: [line], payment_method: "card" }, "payload.card_token"],
          ["unknown method", { items: [line], payment_method: "cash" }, "payload.payment_method"],
          ["negative total", { items: [line], payment_method: "account", total_price: "-1.00" }, "payload.total_price"],
          ["3 decimals", { items: [line], payment_method: "account", total_price: "1.001" }, "payload.total_price"]
        ]
        const before = (yield* call("GET", "/api/orders", { token })).body.data.length
        for (const [name, json, path] of cases) {
          const reply = yield* call("POST", "/api/orders", { token, json })
          assert.strictEqual(reply.status, 422, `${name}: ${JSON.stringify(reply.body)}`)
          assertProblem(reply, 422)
          const paths = (reply.body.errors as Array<{ path: Array<string | number> }>).map((e) => e.path.join("."))
          assert.include(paths, path, name)
        }
        // Nothing was placed.
        assert.strictEqual((yield* call("GET", "/api/orders", { token })).body.data.length, before)
      })
    )

    it.effect("a card order keeps its method, never echoes the card token, and needs a token", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 7_00)
        const { token } = yield* newCustomer()
        const reply = yield* call("POST", "/api/orders", {
          token,
          json: { items: [{ sku, quantity: 1 }], payment_method: "card", card_token: "tok_ok" }
        })
        assert.strictEqual(reply.status, 202)
        assert.strictEqual(reply.body.payment_method, "card")
        assert.notInclude(JSON.stringify(reply.body), "tok_ok")
        const events = yield* call("GET", `/api/orders/${reply.body.id}/events`, { token })
        assert.notInclude(JSON.stringify(events.body), "tok_ok")
      })
    )

    it.effect("401 without a token", () =>
      Effect.gen(function* () {
        assertProblem(yield* call("POST", "/api/orders", { json: { items: [], payment_method: "account" } }), 401)
      })
    )

    it.effect("the same Idempotency-Key sent 10 times at once places one order", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 3_00)
        const { token } = yield* newCustomer()
        const json = { items: [{ sku, quantity: 1 }], payment_method: "account" }
        const replies = yield* Effect.forEach(
          Array.from({ length: 10 }),
          () => call("POST", "/api/orders", { token, json, headers: { "idempotency-key": "order-once-1" } }),
          { concurrency: "unbounded" }
        )
        for (const reply of replies) assert.oneOf(reply.status, [202, 409], JSON.stringify(reply.body))
        const ids = new Set(replies.filter((r) => r.status === 202).map((r) => r.body.id))
        assert.strictEqual(ids.size, 1)
        const list = yield* call("GET", "/api/orders", { token })
        assert.strictEqual(list.body.data.length, 1)
        const replay = yield* call("POST", "/api/orders", {
          token,
          json,
          headers: { "idempotency-key": "order-once-1" }
        })
        assert.strictEqual(replay.status, 202)
        assert.strictEqual(replay.body.id, [...ids][0])
        const other = yield* call("POST", "/api/orders", {
          token,
          json: { ...json, items: [{ sku, quantity: 2 }] },
          headers: { "idempotency-key": "order-once-1" }
        })
        assertProblem(other, 422)
      })
    )
  })

  describe("GET /api/orders/{id}", () => {
    it.effect("the owner and an admin see it; another user, an unknown and a malformed id get 404", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 2_00)
        const owner = yield* newCustomer()
        const other = yield* newCustomer()
        const admin = yield* adminToken
        const order = yield* placeOrder(owner.token, [{ sku, quantity: 1 }])
        const mine = yield* call("GET", `/api/orders/${order.id}`, { token: owner.token })
        assert.strictEqual(mine.status, 200)
        assert.strictEqual(mine.body.id, order.id)
        assert.strictEqual(mine.body.status, "PENDING")
        assert.strictEqual((yield* call("GET", `/api/orders/${order.id}`, { token: admin })).status, 200)
        assertProblem(yield* call("GET", `/api/orders/${order.id}`, { token: other.token }), 404, "order_not_found")
        assertProblem(
          yield* call("GET", "/api/orders/0190a0a0-0000-7000-8000-000000000000", { token: owner.token }),
          404,
          "order_not_found"
        )
        assertProblem(yield* call("GET", "/api/orders/not-a-uuid", { token: owner.token }), 404)
        assertProblem(yield* call("GET", `/api/orders/${order.id}`), 401)
      })
    )
  })

  describe("GET /api/orders and /api/users/{id}/orders", () => {
    it.effect("lists the caller's orders newest first, page by page, right after placing them", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 1_00)
        const { token, id } = yield* newCustomer()
        const stranger = yield* newCustomer()
        yield* placeOrder(stranger.token, [{ sku, quantity: 1 }])
        const placed: Array<string> = []
        for (let i = 1; i <= 5; i++) placed.push((yield* placeOrder(token, [{ sku, quantity: i }])).id)
        const seen: Array<string> = []
        let cursor: string | null = null
        do {
          const page: Reply = yield* call(
            "GET",
            `/api/orders?limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
            { token }
          )
          assert.strictEqual(page.status, 200)
          assert.isAtMost(page.body.data.length, 2)
          seen.push(...page.body.data.map((o: { id: string }) => o.id))
          cursor = page.body.next_cursor
        } while (cursor !== null)
        assert.deepStrictEqual(seen, [...placed].reverse())
        const viaUser = yield* call("GET", `/api/users/${id}/orders?limit=100`, { token })
        assert.deepStrictEqual(
          viaUser.body.data.map((o: { id: string }) => o.id),
          [...placed].reverse()
        )
      })
    )

    it.effect("another user's list is 404; an admin may read it", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 1_00)
        const owner = yield* newCustomer()
        const other = yield* newCustomer()
        const order = yield* placeOrder(owner.token, [{ sku, quantity: 1 }])
        assertProblem(yield* call("GET", `/api/users/${owner.id}/orders`, { token: other.token }), 404)
        const admin = yield* call("GET", `/api/users/${owner.id}/orders`, { token: yield* adminToken })
        assert.strictEqual(admin.status, 200)
        assert.deepStrictEqual(
          admin.body.data.map((o: { id: string }) => o.id),
          [order.id]
        )
      })
    )
  })

  describe("POST /api/orders/{id}/cancel", () => {
    it.effect("cancels a pending order (202), then 409 when no longer cancellable; 404 to others", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 1_00)
        const owner = yield* newCustomer()
        const other = yield* newCustomer()
        const order = yield* placeOrder(owner.token, [{ sku, quantity: 1 }])
        assertProblem(yield* call("POST", `/api/orders/${order.id}/cancel`, { token: other.token }), 404)
        assert.strictEqual(yield* statusOf(order.id, owner.token), "PENDING")
        const cancelled = yield* call("POST", `/api/orders/${order.id}/cancel`, { token: owner.token })
        assert.strictEqual(cancelled.status, 202, JSON.stringify(cancelled.body))
        assert.strictEqual(cancelled.body.status, "CANCELLED")
        assert.strictEqual(cancelled.body.status_reason, "cancelled_by_user")
        const again = yield* call("POST", `/api/orders/${order.id}/cancel`, { token: owner.token })
        assertProblem(again, 409, "order_not_cancellable")
      })
    )

    it.effect("a shipped order cannot be cancelled", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 1_00)
        const owner = yield* newCustomer()
        const admin = yield* adminToken
        const order = yield* placeOrder(owner.token, [{ sku, quantity: 1 }])
        for (const status of ["RESERVED", "PAID", "SHIPPED"]) {
          assert.strictEqual(
            (yield* call("PATCH", `/api/orders/${order.id}`, { token: admin, json: { status } })).status,
            200
          )
        }
        assertProblem(yield* call("POST", `/api/orders/${order.id}/cancel`, { token: owner.token }), 409)
        assert.strictEqual(yield* statusOf(order.id, owner.token), "SHIPPED")
      })
    )
  })

  describe("PATCH /api/orders/{id} (admin)", () => {
    it.effect("moves along the state machine only; 409 for an illegal move, 422 for an unknown status", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 1_00)
        const owner = yield* newCustomer()
        const admin = yield* adminToken
        const order = yield* placeOrder(owner.token, [{ sku, quantity: 1 }])
        const patch = (status: unknown, token = admin) =>
          call("PATCH", `/api/orders/${order.id}`, { token, json: { status } })
        assertProblem(yield* patch("RESERVED", owner.token), 403, "admin_only")
        assertProblem(yield* patch("SHIPPED"), 409, "illegal_transition")
        assertProblem(yield* patch("LOST"), 422)
        assertProblem(yield* patch(7), 422)
        const reserved = yield* patch("RESERVED")
        assert.strictEqual(reserved.status, 200)
        assert.strictEqual(reserved.body.status, "RESERVED")
        assert.strictEqual(reserved.body.version, 2)
        // The status it has already: nothing to do.
        assert.strictEqual((yield* patch("RESERVED")).body.version, 2)
        assertProblem(yield* patch("PENDING"), 409, "illegal_transition")
        const cancelled = yield* patch("CANCELLED")
        assert.strictEqual(cancelled.body.status, "CANCELLED")
        assert.strictEqual(cancelled.body.status_reason, "cancelled_by_admin")
        for (const status of ["PENDING", "RESERVED", "PAID", "SHIPPED", "DELIVERED"]) {
          assertProblem(yield* patch(status), 409, "illegal_transition")
        }
        const unknown = yield* call("PATCH", "/api/orders/0190a0a0-0000-7000-8000-000000000000", {
          token: admin,
          json: { status: "RESERVED" }
        })
        assertProblem(unknown, 404)
      })
    )
  })

  describe("GET /api/orders/{id}/events", () => {
    it.effect("the order's history, oldest first, with positions and versions; 404 to others", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 4_00)
        const owner = yield* newCustomer()
        const other = yield* newCustomer()
        const admin = yield* adminToken
        const order = yield* placeOrder(owner.token, [{ sku, quantity: 2 }])
        yield* call("PATCH", `/api/orders/${order.id}`, { token: admin, json: { status: "RESERVED" } })
        yield* call("POST", `/api/orders/${order.id}/cancel`, { token: owner.token })
        const history = yield* call("GET", `/api/orders/${order.id}/events`, { token: owner.token })
        assert.strictEqual(history.status, 200)
        const events = history.body.data as Array<{
          position: number
          version: number
          type: string
          data: Record<string, unknown>
          recorded_at: string
        }>
        assert.deepStrictEqual(
          events.map((e) => [e.version, e.type]),
          [
            [1, "OrderPlaced"],
            [2, "OrderReserved"],
            [3, "OrderCancelled"]
          ]
        )
        assert.isTrue(events[0]!.position < events[1]!.position && events[1]!.position < events[2]!.position)
        assert.strictEqual(events[0]!.data.total, "8.00")
        assert.strictEqual(events[2]!.data.reason, "cancelled_by_user")
        assert.isNull(history.body.next_cursor)
        const first = yield* call("GET", `/api/orders/${order.id}/events?limit=2`, { token: owner.token })
        assert.strictEqual(first.body.data.length, 2)
        const rest = yield* call("GET", `/api/orders/${order.id}/events?limit=2&cursor=${first.body.next_cursor}`, {
          token: owner.token
        })
        assert.deepStrictEqual(
          rest.body.data.map((e: { type: string }) => e.type),
          ["OrderCancelled"]
        )
        assertProblem(yield* call("GET", `/api/orders/${order.id}/events`, { token: other.token }), 404)
        assert.strictEqual((yield* call("GET", `/api/orders/${order.id}/events`, { token: admin })).status, 200)
      })
    )
  })
})
