import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { assertProblem, call, makeServer } from "./ApiHarness.ts"
import {
  adminToken,
  define,
  freshSku,
  newCustomer,
  placeOrder,
  postCallback,
  stageCreatedShipment,
  stagePayment,
  stageShipped,
  statusOf
} from "./ShopFixtures.ts"

const nowSeconds = () => Math.floor(Date.now() / 1000)

layer(makeServer("api-payments-shipments"), { excludeTestServices: true, timeout: "120 seconds" })(
  "payments and shipments over HTTP",
  (it) => {
    /** A customer's card order with its pending payment. */
    const cardOrder = Effect.gen(function* () {
      const sku = freshSku()
      yield* define(sku, 12_34)
      const owner = yield* newCustomer()
      const reply = yield* call("POST", "/api/orders", {
        token: owner.token,
        json: { items: [{ sku, quantity: 2 }], payment_method: "card", card_token: "tok_ok" }
      })
      const order = reply.body as { id: string; total: string; user_id: string }
      const paymentId = yield* stagePayment(order, "card")
      return { owner, order, paymentId }
    })

    describe("GET /api/payments/{id}", () => {
      it.effect("the payer and an admin see it; anyone else, an unknown and a malformed id get 404", () =>
        Effect.gen(function* () {
          const { owner, order, paymentId } = yield* cardOrder
          const other = yield* newCustomer()
          const mine = yield* call("GET", `/api/payments/${paymentId}`, { token: owner.token })
          assert.strictEqual(mine.status, 200, JSON.stringify(mine.body))
          assert.deepInclude(mine.body, {
            id: paymentId,
            order_id: order.id,
            amount: "24.68",
            status: "pending",
            method: "card",
            failure_reason: null
          })
          assert.strictEqual(
            (yield* call("GET", `/api/payments/${paymentId}`, { token: yield* adminToken })).status,
            200
          )
          assertProblem(yield* call("GET", `/api/payments/${paymentId}`, { token: other.token }), 404)
          assertProblem(
            yield* call("GET", "/api/payments/0190a0a0-0000-7000-8000-000000000000", { token: owner.token }),
            404
          )
          assertProblem(yield* call("GET", "/api/payments/nope", { token: owner.token }), 404)
          assertProblem(yield* call("GET", `/api/payments/${paymentId}`), 401)
        })
      )
    })

    describe("POST /api/payments/callback", () => {
      it.effect("a signed success settles the payment; a duplicate is acknowledged and changes nothing", () =>
        Effect.gen(function* () {
          const { owner, order, paymentId } = yield* cardOrder
          const body = {
            payment_id: paymentId,
            order_id: order.id,
            status: "succeeded",
            amount: "24.68",
            error_message: null,
            processed_at: new Date().toISOString()
          }
          const first = yield* postCallback(body)
          assert.strictEqual(first.status, 200, JSON.stringify(first.body))
          assert.deepStrictEqual(first.body, { received: true, payment_id: paymentId, status: "succeeded" })
          const payment = yield* call("GET", `/api/payments/${paymentId}`, { token: owner.token })
          assert.strictEqual(payment.body.status, "succeeded")
          for (let i = 0; i < 3; i++) {
            const again = yield* postCallback(body)
            assert.strictEqual(again.status, 200)
            assert.strictEqual(again.body.status, "succeeded")
          }
          // A late "failed" for the same payment does not undo the success.
          assert.strictEqual((yield* postCallback({ ...body, status: "failed" })).body.status, "succeeded")
          const after = yield* call("GET", `/api/payments/${paymentId}`, { token: owner.token })
          assert.strictEqual(after.body.updated_at, payment.body.updated_at)
        })
      )

      it.effect("a signed failure fails the payment with its reason", () =>
        Effect.gen(function* () {
          const { owner, order, paymentId } = yield* cardOrder
          const reply = yield* postCallback({
            payment_id: paymentId,
            order_id: order.id,
            status: "failed",
            amount: 24.68,
            error_message: "card declined"
          })
          assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
          const payment = yield* call("GET", `/api/payments/${paymentId}`, { token: owner.token })
          assert.strictEqual(payment.body.status, "failed")
          assert.strictEqual(payment.body.failure_reason, "declined")
        })
      )

      it.effect("401 for a missing, forged, stale or future signature, before the body is read", () =>
        Effect.gen(function* () {
          const { owner, order, paymentId } = yield* cardOrder
          const body = { payment_id: paymentId, order_id: order.id, status: "succeeded", amount: "24.68" }
          assertProblem(yield* postCallback(body, { signature: null }), 401, "invalid_signature")
          assertProblem(yield* postCallback(body, { secret: "not-the-secret" }), 401, "invalid_signature")
          assertProblem(yield* postCallback(body, { timestamp: nowSeconds() - 301 }), 401, "invalid_signature")
          assertProblem(yield* postCallback(body, { timestamp: nowSeconds() + 301 }), 401, "invalid_signature")
          assertProblem(yield* postCallback(body, { signature: "t=1,v1=abc" }), 401, "invalid_signature")
          // Unsigned garbage is refused as unsigned, not parsed.
          assertProblem(yield* postCallback("{not json", { signature: null }), 401)
          const payment = yield* call("GET", `/api/payments/${paymentId}`, { token: owner.token })
          assert.strictEqual(payment.body.status, "pending")
        })
      )

      it.effect("422 for an amount or an order that does not match; 404 for an unknown payment", () =>
        Effect.gen(function* () {
          const { owner, order, paymentId } = yield* cardOrder
          const body = { payment_id: paymentId, order_id: order.id, status: "succeeded", amount: "24.68" }
          const amount = yield* postCallback({ ...body, amount: "24.67" })
          assertProblem(amount, 422, "callback_mismatch")
          assert.deepStrictEqual(amount.body.errors[0].path, ["payload", "amount"])
          const otherOrder = yield* postCallback({ ...body, order_id: "0190a0a0-0000-7000-8000-000000000000" })
          assertProblem(otherOrder, 422, "callback_mismatch")
          assertProblem(
            yield* postCallback({ ...body, payment_id: "0190a0a0-0000-7000-8000-000000000001" }),
            404,
            "payment_not_found"
          )
          assertProblem(yield* postCallback({ ...body, status: "maybe" }), 422)
          assertProblem(yield* postCallback("{not json"), 400)
          const payment = yield* call("GET", `/api/payments/${paymentId}`, { token: owner.token })
          assert.strictEqual(payment.body.status, "pending")
        })
      )
    })

    describe("shipments", () => {
      it.effect("the order's owner and an admin see the shipment; anyone else gets 404", () =>
        Effect.gen(function* () {
          const sku = freshSku()
          yield* define(sku, 1_00)
          const owner = yield* newCustomer()
          const other = yield* newCustomer()
          const admin = yield* adminToken
          const items = [{ sku, quantity: 2 }]
          const order = yield* placeOrder(owner.token, items)
          const shipmentId = yield* stageShipped(order.id, admin, items)
          const mine = yield* call("GET", `/api/shipments/${shipmentId}`, { token: owner.token })
          assert.strictEqual(mine.status, 200, JSON.stringify(mine.body))
          assert.deepInclude(mine.body, {
            id: shipmentId,
            order_id: order.id,
            status: "shipped",
            items,
            tracking_number: "TRK-1",
            cancel_reason: null
          })
          assert.strictEqual((yield* call("GET", `/api/shipments/${shipmentId}`, { token: admin })).status, 200)
          assertProblem(yield* call("GET", `/api/shipments/${shipmentId}`, { token: other.token }), 404)
          assertProblem(yield* call("GET", "/api/shipments/xyz", { token: owner.token }), 404)
        })
      )

      it.effect("an admin delivers a shipped shipment and its order with it; again is a no-op", () =>
        Effect.gen(function* () {
          const sku = freshSku()
          yield* define(sku, 1_00)
          const owner = yield* newCustomer()
          const admin = yield* adminToken
          const items = [{ sku, quantity: 1 }]
          const order = yield* placeOrder(owner.token, items)
          const shipmentId = yield* stageShipped(order.id, admin, items)
          assertProblem(
            yield* call("POST", `/api/admin/shipments/${shipmentId}/deliver`, { token: owner.token }),
            403,
            "admin_only"
          )
          const delivered = yield* call("POST", `/api/admin/shipments/${shipmentId}/deliver`, { token: admin })
          assert.strictEqual(delivered.status, 200, JSON.stringify(delivered.body))
          assert.strictEqual(delivered.body.status, "delivered")
          assert.strictEqual(yield* statusOf(order.id, owner.token), "DELIVERED")
          const again = yield* call("POST", `/api/admin/shipments/${shipmentId}/deliver`, { token: admin })
          assert.strictEqual(again.status, 200)
          assert.strictEqual(again.body.updated_at, delivered.body.updated_at)
          assertProblem(
            yield* call("POST", "/api/admin/shipments/0190a0a0-0000-7000-8000-000000000000/deliver", { token: admin }),
            404
          )
        })
      )

      it.effect("a shipment that has not left cannot be delivered (409), and nothing changes", () =>
        Effect.gen(function* () {
          const sku = freshSku()
          yield* define(sku, 1_00)
          const owner = yield* newCustomer()
          const admin = yield* adminToken
          const items = [{ sku, quantity: 1 }]
          const order = yield* placeOrder(owner.token, items)
          const shipmentId = yield* stageCreatedShipment(order.id, items)
          const reply = yield* call("POST", `/api/admin/shipments/${shipmentId}/deliver`, { token: admin })
          assertProblem(reply, 409, "illegal_transition")
          assert.strictEqual(
            (yield* call("GET", `/api/shipments/${shipmentId}`, { token: admin })).body.status,
            "created"
          )
          assert.strictEqual(yield* statusOf(order.id, owner.token), "PENDING")
        })
      )
    })
  }
)
