/**
 * Broken object- and function-level authorisation, route by route: every
 * owner-scoped route answers 404 to another user (exactly as for an unknown
 * id) and changes nothing; every admin route of the contract, found by
 * reflecting over it (so a new one is covered without editing this file),
 * answers 403 to a customer before reading its input.
 */
import { Api, RequireAdmin } from "@agora/api"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { HttpApi } from "effect/http-api"
import { assertProblem, call, makeServer } from "./ApiHarness.ts"
import { adminToken, define, freshSku, newCustomer, placeOrder, stagePayment, stageShipped } from "./ShopFixtures.ts"

const adminRoutes: Array<{ method: string; path: string }> = []
HttpApi.reflect(Api, {
  onGroup: () => {},
  onEndpoint: ({ endpoint, middleware }) => {
    if ([...middleware].some((m) => m.key === RequireAdmin.key))
      adminRoutes.push({ method: endpoint.method, path: endpoint.path })
  }
})

layer(makeServer("api-authorisation"), { excludeTestServices: true, timeout: "120 seconds" })("authorisation", (it) => {
  describe("BOLA: another user's objects do not exist for you", () => {
    it.effect("404 on every owner-scoped route, and nothing changes", () =>
      Effect.gen(function* () {
        const sku = freshSku()
        yield* define(sku, 3_00)
        const owner = yield* newCustomer()
        const intruder = yield* newCustomer()
        const admin = yield* adminToken
        const items = [{ sku, quantity: 1 }]
        const order = yield* placeOrder(owner.token, items)
        const paymentId = yield* stagePayment(order, "account")
        const shipped = yield* placeOrder(owner.token, items)
        const shipmentId = yield* stageShipped(shipped.id, admin, items)
        const routes: ReadonlyArray<["GET" | "POST", string]> = [
          ["GET", `/api/orders/${order.id}`],
          ["GET", `/api/orders/${order.id}/events`],
          ["POST", `/api/orders/${order.id}/cancel`],
          ["GET", `/api/users/${owner.id}/orders`],
          ["GET", `/api/payments/${paymentId}`],
          ["GET", `/api/shipments/${shipmentId}`]
        ]
        for (const [method, path] of routes) {
          assertProblem(yield* call(method, path, { token: intruder.token }), 404)
          const own = yield* call(method, path, { token: owner.token })
          assert.oneOf(own.status, [200, 202], `${method} ${path}: ${JSON.stringify(own.body)}`)
        }
        // The intruder's cancel did nothing; the owner's did.
        const history = yield* call("GET", `/api/orders/${order.id}/events`, { token: owner.token })
        assert.deepStrictEqual(
          history.body.data.map((e: { type: string }) => e.type),
          ["OrderPlaced", "OrderCancelled"]
        )
        // The intruder's own list does not show the owner's orders.
        const list = yield* call("GET", "/api/orders", { token: intruder.token })
        assert.deepStrictEqual(list.body.data, [])
      })
    )
  })

  describe("function level: admin routes", () => {
    it("the contract has the admin routes of SPEC §3", () => {
      assert.includeDeepMembers(adminRoutes, [
        { method: "POST", path: "/api/admin/inventory/:sku/restock" },
        { method: "GET", path: "/api/admin/inventory/:sku" },
        { method: "PATCH", path: "/api/orders/:id" },
        { method: "POST", path: "/api/admin/shipments/:id/deliver" }
      ])
    })

    it.effect("a customer gets 403 on every admin route, whatever the body; no token gets 401", () =>
      Effect.gen(function* () {
        const customer = yield* newCustomer()
        for (const route of adminRoutes) {
          const path = route.path.replace(/:[a-z_]+/g, "0190a0a0-0000-7000-8000-000000000000")
          const method = route.method as "GET" | "POST" | "PATCH"
          const body = method === "GET" ? {} : { json: { status: "DELIVERED", quantity: 5 } }
          assertProblem(yield* call(method, path, { token: customer.token, ...body }), 403, "admin_only")
          assertProblem(yield* call(method, path, { ...body }), 401)
        }
      })
    )
  })
})
