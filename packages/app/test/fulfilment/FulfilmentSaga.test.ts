import { Fulfilment } from "@agora/domain"
import { assert, describe, layer } from "@effect/vitest"
import { DateTime, Effect } from "effect"
import { FulfilmentSaga, Orders, Payments } from "../../src/index.ts"
import {
  awaitStatus,
  balanceOf,
  customer,
  makeStack,
  orderOf,
  paymentOf,
  place,
  product,
  providerRequests,
  stockOf
} from "./SagaHarness.ts"

const shipBy = (orderId: string, trackingNumber = "TRK-1") =>
  Effect.gen(function* () {
    const saga = yield* FulfilmentSaga.FulfilmentSaga
    const at = yield* DateTime.now
    return yield* saga.advance(orderId, new Fulfilment.ReportCarrierShipped({ orderId, trackingNumber, at }))
  }).pipe(Effect.orDie)

const carrierCancels = (orderId: string) =>
  Effect.gen(function* () {
    const saga = yield* FulfilmentSaga.FulfilmentSaga
    const at = yield* DateTime.now
    return yield* saga.advance(orderId, new Fulfilment.ReportCarrierCancelled({ orderId, at }))
  }).pipe(Effect.orDie)

const webhook = (paymentId: string, orderId: string, status: "succeeded" | "failed", amount: number) =>
  Effect.flatMap(Payments.Payments, (payments) =>
    payments.recordProviderResult({ paymentId, orderId, status, amount: amount as never })
  ).pipe(Effect.orDie)

layer(makeStack("saga-paths", { PAYMENT_TIMEOUT: "400 millis" }), {
  excludeTestServices: true,
  timeout: "120 seconds"
})("the fulfilment saga, path by path (SPEC §5)", (it) => {
  describe("account payments", () => {
    it.effect("PENDING → RESERVED → PAID, then SHIPPED when the carrier ships: stock and money move once", () =>
      Effect.gen(function* () {
        const sku = yield* product(10_00, 5)
        const userId = yield* customer(100_00)
        const order = yield* place(userId, [{ sku, quantity: 2 }])
        const paid = yield* awaitStatus(order.id, "PAID")
        assert.strictEqual(paid.paymentId, Orders.paymentIdOf(order.id))
        assert.strictEqual(yield* balanceOf(userId), 80_00)
        assert.deepInclude(yield* stockOf(sku), { onHand: 5, reserved: 2, available: 3, shipped: 0 })
        assert.strictEqual((yield* paymentOf(Orders.paymentIdOf(order.id))).status, "succeeded")
        yield* shipBy(order.id)
        const shipped = yield* awaitStatus(order.id, "SHIPPED")
        assert.strictEqual(shipped.trackingNumber, "TRK-1")
        assert.deepInclude(yield* stockOf(sku), { onHand: 3, reserved: 0, available: 3, shipped: 2 })
        // The carrier's message again: nothing more happens.
        yield* shipBy(order.id)
        assert.strictEqual((yield* orderOf(order.id)).version, shipped.version)
        assert.strictEqual(yield* balanceOf(userId), 80_00)
      })
    )

    it.effect("out of stock: CANCELLED (out_of_stock), nothing reserved, nothing debited", () =>
      Effect.gen(function* () {
        const plenty = yield* product(1_00, 10)
        const scarce = yield* product(1_00, 1)
        const userId = yield* customer(100_00)
        const order = yield* place(userId, [
          { sku: plenty, quantity: 3 },
          { sku: scarce, quantity: 2 }
        ])
        const cancelled = yield* awaitStatus(order.id, "CANCELLED")
        assert.strictEqual(cancelled.statusReason, "out_of_stock")
        assert.deepInclude(yield* stockOf(plenty), { reserved: 0, available: 10 })
        assert.deepInclude(yield* stockOf(scarce), { reserved: 0, available: 1 })
        assert.strictEqual(yield* balanceOf(userId), 100_00)
      })
    )

    it.effect("insufficient funds: CANCELLED (insufficient_funds), stock released, the payment failed", () =>
      Effect.gen(function* () {
        const sku = yield* product(50_00, 4)
        const userId = yield* customer(10_00)
        const order = yield* place(userId, [{ sku, quantity: 1 }])
        const cancelled = yield* awaitStatus(order.id, "CANCELLED")
        assert.strictEqual(cancelled.statusReason, "insufficient_funds")
        assert.deepInclude(yield* stockOf(sku), { reserved: 0, available: 4 })
        assert.strictEqual(yield* balanceOf(userId), 10_00)
        assert.strictEqual((yield* paymentOf(Orders.paymentIdOf(order.id))).status, "failed")
      })
    )

    it.effect("no account at all counts as insufficient funds", () =>
      Effect.gen(function* () {
        const sku = yield* product(1_00, 4)
        const userId = yield* customer(undefined)
        const order = yield* place(userId, [{ sku, quantity: 1 }])
        assert.strictEqual((yield* awaitStatus(order.id, "CANCELLED")).statusReason, "insufficient_funds")
      })
    )

    it.effect("the owner cancels a PAID order: refunded, stock released, shipment cancelled", () =>
      Effect.gen(function* () {
        const sku = yield* product(7_00, 3)
        const userId = yield* customer(50_00)
        const order = yield* place(userId, [{ sku, quantity: 3 }])
        yield* awaitStatus(order.id, "PAID")
        assert.strictEqual(yield* balanceOf(userId), 29_00)
        const orders = yield* Orders.Orders
        yield* Effect.orDie(orders.cancel(order.id, { userId, admin: false }))
        // The saga compensates: wait for the refund.
        while ((yield* balanceOf(userId)) !== 50_00) yield* Effect.sleep("20 millis")
        while ((yield* stockOf(sku)).reserved !== 0) yield* Effect.sleep("20 millis")
        assert.deepInclude(yield* stockOf(sku), { onHand: 3, available: 3 })
        assert.strictEqual((yield* orderOf(order.id)).statusReason, "cancelled_by_user")
        while ((yield* paymentOf(Orders.paymentIdOf(order.id))).status !== "refunded") yield* Effect.sleep("20 millis")
      })
    )

    it.effect("the shipping service cancels: refunded, released, CANCELLED (shipping_cancelled)", () =>
      Effect.gen(function* () {
        const sku = yield* product(5_00, 2)
        const userId = yield* customer(20_00)
        const order = yield* place(userId, [{ sku, quantity: 2 }])
        yield* awaitStatus(order.id, "PAID")
        yield* carrierCancels(order.id)
        const cancelled = yield* awaitStatus(order.id, "CANCELLED")
        assert.strictEqual(cancelled.statusReason, "shipping_cancelled")
        assert.strictEqual(yield* balanceOf(userId), 20_00)
        assert.deepInclude(yield* stockOf(sku), { reserved: 0, available: 2, onHand: 2 })
      })
    )
  })

  describe("card payments", () => {
    it.effect("asks the provider, waits for its webhook, then PAID; a duplicate webhook changes nothing", () =>
      Effect.gen(function* () {
        const sku = yield* product(12_34, 2)
        const userId = yield* customer(undefined)
        const order = yield* place(userId, [{ sku, quantity: 1 }], "card", "tok_ok")
        yield* awaitStatus(order.id, "RESERVED")
        const paymentId = Orders.paymentIdOf(order.id)
        while (!providerRequests.some((r) => r.paymentId === paymentId)) yield* Effect.sleep("10 millis")
        assert.deepInclude(
          providerRequests.find((r) => r.paymentId === paymentId),
          { orderId: order.id, amount: "12.34", cardToken: "tok_ok" }
        )
        yield* webhook(paymentId, order.id, "succeeded", 12_34)
        yield* awaitStatus(order.id, "PAID")
        yield* webhook(paymentId, order.id, "succeeded", 12_34)
        assert.strictEqual((yield* paymentOf(paymentId)).status, "succeeded")
      })
    )

    it.effect("declined: CANCELLED (payment_declined), stock released", () =>
      Effect.gen(function* () {
        const sku = yield* product(3_00, 1)
        const userId = yield* customer(undefined)
        const order = yield* place(userId, [{ sku, quantity: 1 }], "card", "tok_decline")
        yield* awaitStatus(order.id, "RESERVED")
        // The provider answers only once it was asked.
        while (!providerRequests.some((r) => r.paymentId === Orders.paymentIdOf(order.id)))
          yield* Effect.sleep("10 millis")
        yield* webhook(Orders.paymentIdOf(order.id), order.id, "failed", 3_00)
        assert.strictEqual((yield* awaitStatus(order.id, "CANCELLED")).statusReason, "payment_declined")
        assert.deepInclude(yield* stockOf(sku), { reserved: 0, available: 1 })
      })
    )

    it.effect(
      "no answer: the durable deadline fails the payment, CANCELLED (payment_timeout); a late success is refunded",
      () =>
        Effect.gen(function* () {
          const sku = yield* product(3_00, 1)
          const userId = yield* customer(undefined)
          const order = yield* place(userId, [{ sku, quantity: 1 }], "card", "tok_timeout")
          const cancelled = yield* awaitStatus(order.id, "CANCELLED")
          assert.strictEqual(cancelled.statusReason, "payment_timeout")
          const paymentId = Orders.paymentIdOf(order.id)
          assert.strictEqual((yield* paymentOf(paymentId)).status, "failed")
          assert.deepInclude(yield* stockOf(sku), { reserved: 0, available: 1 })
          // The provider answers after all: that money goes back.
          yield* webhook(paymentId, order.id, "succeeded", 3_00)
          while ((yield* paymentOf(paymentId)).status !== "refunded") yield* Effect.sleep("20 millis")
          assert.strictEqual((yield* orderOf(order.id)).status, "CANCELLED")
        })
    )
  })
})
