import { randomUUID } from "node:crypto"
import { Catalog } from "@agora/app"
import { Money } from "@agora/domain"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { adminEmail, assertProblem, call, makeServer, type Reply, signUp } from "./ApiHarness.ts"

/** A SKU no other test uses. */
const freshSku = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8).toUpperCase()}`

const define = (sku: string, price: number, initialStock: number) =>
  Effect.flatMap(Catalog.Catalog, (catalog) =>
    catalog.defineProduct({ sku, name: `Part ${sku}`, price: Money.make(price), initialStock })
  ).pipe(Effect.orDie)

const adminToken = Effect.map(signUp(adminEmail), (s) => s.token)
const customerToken = Effect.map(signUp(`user-${randomUUID().slice(0, 8)}@example.com`), (s) => s.token)

layer(makeServer("api-catalog"), { excludeTestServices: true, timeout: "120 seconds" })(
  "catalog and inventory over HTTP",
  (it) => {
    describe("GET /api/products", () => {
      it.effect("lists every product once, in SKU order, page by page, with prices as strings", () =>
        Effect.gen(function* () {
          const skus = [freshSku("PGN"), freshSku("PGN"), freshSku("PGN")] as const
          yield* define(skus[0], 1_234_50, 7)
          yield* define(skus[1], 99, 0)
          yield* define(skus[2], 100_000_00, 200)
          const seen: Array<{ sku: string }> = []
          let cursor: string | null = null
          do {
            const page: Reply = yield* call(
              "GET",
              `/api/products?limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`
            )
            assert.strictEqual(page.status, 200)
            assert.isAtMost(page.body.data.length, 2)
            seen.push(...page.body.data)
            cursor = page.body.next_cursor
          } while (cursor !== null)
          const order = seen.map((p) => p.sku)
          assert.deepStrictEqual(order, [...new Set(order)].sort())
          assert.deepStrictEqual(
            seen.filter((p) => (skus as ReadonlyArray<string>).includes(p.sku)),
            [
              { sku: skus[0], name: `Part ${skus[0]}`, price: "1234.50", currency: "RUB", available: 7 },
              { sku: skus[1], name: `Part ${skus[1]}`, price: "0.99", currency: "RUB", available: 0 },
              { sku: skus[2], name: `Part ${skus[2]}`, price: "100000.00", currency: "RUB", available: 200 }
            ].sort((a, b) => (a.sku < b.sku ? -1 : 1))
          )
        })
      )

      it.effect("a limit outside 1..100 is a 422", () =>
        Effect.gen(function* () {
          for (const limit of ["0", "101", "x", "1.5"]) {
            const reply = yield* call("GET", `/api/products?limit=${limit}`)
            assertProblem(reply, 422, "validation_failed")
            assert.deepStrictEqual(reply.body.errors[0].path, ["query", "limit"])
          }
        })
      )
    })

    describe("GET /api/products/{sku}", () => {
      it.effect("answers one product, and a 404 problem for an unknown SKU", () =>
        Effect.gen(function* () {
          const sku = freshSku("ONE")
          yield* define(sku, 4_500_00, 12)
          const reply = yield* call("GET", `/api/products/${sku}`)
          assert.deepStrictEqual(
            [reply.status, reply.body],
            [200, { sku, name: `Part ${sku}`, price: "4500.00", currency: "RUB", available: 12 }]
          )
          assertProblem(yield* call("GET", "/api/products/NO-SUCH-SKU"), 404, "unknown_sku")
        })
      )
    })

    describe("admin inventory", () => {
      it.effect("an admin restocks and reads the stock; the catalog shows the new availability", () =>
        Effect.gen(function* () {
          const token = yield* adminToken
          const sku = freshSku("RST")
          yield* define(sku, 100, 20)
          const restocked = yield* call("POST", `/api/admin/inventory/${sku}/restock`, {
            token,
            json: { quantity: 15 }
          })
          assert.deepStrictEqual(
            [restocked.status, restocked.body],
            [200, { sku, on_hand: 35, reserved: 0, available: 35 }]
          )
          const inventory = yield* call("GET", `/api/admin/inventory/${sku}`, { token })
          assert.deepStrictEqual(
            [inventory.status, inventory.body],
            [200, { sku, on_hand: 35, reserved: 0, available: 35, shipped: 0 }]
          )
          assert.strictEqual((yield* call("GET", `/api/products/${sku}`)).body.available, 35)
        })
      )

      it.effect("an unknown SKU is a 404 on both admin routes", () =>
        Effect.gen(function* () {
          const token = yield* adminToken
          assertProblem(
            yield* call("POST", "/api/admin/inventory/NO-SUCH-SKU/restock", { token, json: { quantity: 1 } }),
            404,
            "unknown_sku"
          )
          assertProblem(yield* call("GET", "/api/admin/inventory/NO-SUCH-SKU", { token }), 404, "unknown_sku")
        })
      )

      it.effect("bad quantities are a 422 naming payload.quantity, and change nothing", () =>
        Effect.gen(function* () {
          const token = yield* adminToken
          const sku = freshSku("QTY")
          yield* define(sku, 100, 5)
          for (const quantity of [0, -1, 1.5, "x", 10 ** 12, 1_000_001, null, "5", true]) {
            const reply = yield* call("POST", `/api/admin/inventory/${sku}/restock`, { token, json: { quantity } })
            assertProblem(reply, 422, "validation_failed")
            assert.deepStrictEqual(
              reply.body.errors.map((e: { path: Array<string> }) => e.path),
              [["payload", "quantity"]],
              JSON.stringify(quantity)
            )
          }
          const missing = yield* call("POST", `/api/admin/inventory/${sku}/restock`, { token, json: {} })
          assertProblem(missing, 422, "validation_failed")
          assert.deepStrictEqual(missing.body.errors[0].path, ["payload", "quantity"])
          assertProblem(
            yield* call("POST", `/api/admin/inventory/${sku}/restock`, { token, text: "{quantity:" }),
            400,
            "malformed_json"
          )
          const inventory = yield* call("GET", `/api/admin/inventory/${sku}`, { token })
          assert.strictEqual(inventory.body.on_hand, 5)
          const max = yield* call("POST", `/api/admin/inventory/${sku}/restock`, {
            token,
            json: { quantity: 1_000_000 }
          })
          assert.strictEqual(max.body.on_hand, 1_000_005)
        })
      )

      it.effect("a customer gets 403 on every admin route, whatever the input", () =>
        Effect.gen(function* () {
          const token = yield* customerToken
          const sku = freshSku("FBD")
          yield* define(sku, 100, 5)
          for (const reply of [
            yield* call("POST", `/api/admin/inventory/${sku}/restock`, { token, json: { quantity: 1 } }),
            yield* call("POST", `/api/admin/inventory/${sku}/restock`, { token, json: { quantity: -1 } }),
            yield* call("POST", "/api/admin/inventory/NO-SUCH-SKU/restock", { token, json: { quantity: 1 } }),
            yield* call("GET", `/api/admin/inventory/${sku}`, { token }),
            yield* call("GET", "/api/admin/inventory/NO-SUCH-SKU", { token })
          ]) {
            assertProblem(reply, 403, "admin_only")
          }
          const { token: admin } = yield* signUp(adminEmail)
          assert.strictEqual((yield* call("GET", `/api/admin/inventory/${sku}`, { token: admin })).body.on_hand, 5)
        })
      )

      it.effect("without a valid token every admin route is a 401", () =>
        Effect.gen(function* () {
          const sku = freshSku("ANON")
          for (const token of [undefined, "garbage"]) {
            const options = token === undefined ? {} : { token }
            assertProblem(
              yield* call("POST", `/api/admin/inventory/${sku}/restock`, { ...options, json: { quantity: 1 } }),
              401
            )
            assertProblem(yield* call("GET", `/api/admin/inventory/${sku}`, options), 401)
          }
        })
      )
    })

    it.effect("the OpenAPI document lists the catalog and inventory routes", () =>
      Effect.gen(function* () {
        const doc = yield* call("GET", "/api/openapi.json")
        assert.includeMembers(Object.keys(doc.body.paths), [
          "/api/products",
          "/api/products/{sku}",
          "/api/admin/inventory/{sku}/restock",
          "/api/admin/inventory/{sku}"
        ])
      })
    )
  }
)
