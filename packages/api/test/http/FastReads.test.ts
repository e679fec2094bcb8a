/**
 * The edge's fast path for `GET /api/orders/{id}` and the contract's route
 * must be indistinguishable: a query string sends the same read down the
 * route, so every case is read both ways and compared, and the fast body is
 * checked against the contract's schema.
 */
import { OrderBody } from "@agora/api"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { assertProblem, call, makeServer } from "../ApiHarness.ts"
import { adminToken, define, freshSku, newCustomer, placeOrder } from "../ShopFixtures.ts"

const bothWays = (id: string, token?: string) =>
  Effect.all([
    call("GET", `/api/orders/${id}`, token === undefined ? {} : { token }),
    call("GET", `/api/orders/${id}?via=route`, token === undefined ? {} : { token })
  ])

layer(makeServer("edge-fast-reads"), { excludeTestServices: true, timeout: "60 seconds" })(
  "GET /api/orders/{id}: fast path and route agree",
  (it) => {
    describe("answers", () => {
      it.effect("the same body and content type, valid against the contract, fresh after every change", () =>
        Effect.gen(function* () {
          const sku = freshSku()
          yield* define(sku, 12_50)
          const owner = yield* newCustomer()
          const order = yield* placeOrder(owner.token, [{ sku, quantity: 3 }])
          const [fast, route] = yield* bothWays(order.id, owner.token)
          assert.strictEqual(fast.status, 200)
          assert.strictEqual(route.status, 200)
          assert.deepStrictEqual(fast.body, route.body)
          assert.strictEqual(fast.contentType, route.contentType)
          Schema.decodeUnknownSync(OrderBody)(fast.body)
          // A new version is served at once, not the cached body.
          yield* call("POST", `/api/orders/${order.id}/cancel`, { token: owner.token })
          const [fastAfter, routeAfter] = yield* bothWays(order.id, owner.token)
          assert.strictEqual(fastAfter.body.status, "CANCELLED")
          assert.strictEqual(fastAfter.body.version, 2)
          assert.deepStrictEqual(fastAfter.body, routeAfter.body)
          // An admin reads it the same way.
          const [adminFast, adminRoute] = yield* bothWays(order.id, yield* adminToken)
          assert.deepStrictEqual(adminFast.body, adminRoute.body)
        })
      )

      it.effect("the same problems: no token, a forged one, another user, an unknown id", () =>
        Effect.gen(function* () {
          const sku = freshSku()
          yield* define(sku, 1_00)
          const owner = yield* newCustomer()
          const other = yield* newCustomer()
          const order = yield* placeOrder(owner.token, [{ sku, quantity: 1 }])
          const cases: ReadonlyArray<[string, string | undefined, number]> = [
            [order.id, undefined, 401],
            [order.id, `${owner.token.slice(0, -4)}AAAA`, 401],
            [order.id, other.token, 404],
            ["0190a0a0-0000-7000-8000-000000000000", owner.token, 404]
          ]
          for (const [id, token, status] of cases) {
            const [fast, route] = yield* bothWays(id, token)
            assertProblem(fast, status)
            assert.deepStrictEqual(fast.body, route.body)
          }
        })
      )
    })
  }
)
