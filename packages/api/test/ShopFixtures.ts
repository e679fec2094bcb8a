/**
 * Staging for order, payment and shipment tests: products with stock, users,
 * orders placed over HTTP, and the steps the saga will take (a payment, a
 * shipment) sent straight to the actors, since this API stage has no saga.
 */
import { randomUUID } from "node:crypto"
import { ActorRuntime } from "@agora/actors"
import { Catalog, Orders } from "@agora/app"
import { Money, type Order, Payment, Shipment } from "@agora/domain"
import { WebhookSignature } from "@agora/edge"
import { assert } from "@effect/vitest"
import { DateTime, Effect } from "effect"
import { adminEmail, call, signUp, webhookSecret } from "./ApiHarness.ts"

/** A SKU no other test uses. */
export const freshSku = (prefix = "PRT") => `${prefix}-${randomUUID().slice(0, 8).toUpperCase()}`

export const define = (sku: string, price: number, initialStock = 100) =>
  Effect.flatMap(Catalog.Catalog, (catalog) =>
    catalog.defineProduct({ sku, name: `Part ${sku}`, price: Money.make(price), initialStock })
  ).pipe(Effect.orDie)

export const newCustomer = () => signUp(`user-${randomUUID().slice(0, 8)}@example.com`)
export const adminToken = Effect.map(signUp(adminEmail), (s) => s.token)

/** Places an account-paid order for one of `sku` over HTTP and returns its body. */
export const placeOrder = (token: string, items: ReadonlyArray<{ sku: string; quantity: number }>) =>
  Effect.gen(function* () {
    const reply = yield* call("POST", "/api/orders", { token, json: { items, payment_method: "account" } })
    assert.strictEqual(reply.status, 202, JSON.stringify(reply.body))
    return reply.body as { id: string; total: string; user_id: string; status: string }
  })

/** The payment the saga would create for an order (id derived from the order's). */
export const stagePayment = (order: { id: string; total: string; user_id: string }, method: "account" | "card") =>
  Effect.gen(function* () {
    const actors = yield* ActorRuntime
    const paymentId = Orders.paymentIdOf(order.id)
    const amount = Money.fromDecimalString(order.total)
    if (amount._tag !== "Success") return yield* Effect.die("unparseable total")
    yield* actors.send(
      Payment.Payment,
      paymentId,
      new Payment.CreatePayment({
        paymentId,
        orderId: order.id,
        userId: order.user_id,
        amount: amount.success,
        method,
        at: yield* DateTime.now
      })
    )
    return paymentId
  }).pipe(Effect.orDie)

/** Moves an order to SHIPPED the way the saga would, with its shipment created and shipped. */
export const stageShipped = (orderId: string, admin: string, items: ReadonlyArray<{ sku: string; quantity: number }>) =>
  Effect.gen(function* () {
    for (const status of ["RESERVED", "PAID", "SHIPPED"]) {
      const reply = yield* call("PATCH", `/api/orders/${orderId}`, { token: admin, json: { status } })
      assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
    }
    const actors = yield* ActorRuntime
    const shipmentId = Orders.shipmentIdOf(orderId)
    const at = yield* DateTime.now
    yield* actors.send(Shipment.Shipment, shipmentId, new Shipment.CreateShipment({ shipmentId, orderId, items, at }))
    yield* actors.send(
      Shipment.Shipment,
      shipmentId,
      new Shipment.MarkShipmentShipped({ shipmentId, trackingNumber: "TRK-1", at })
    )
    return shipmentId
  }).pipe(Effect.orDie)

/** A shipment created but not shipped yet. */
export const stageCreatedShipment = (orderId: string, items: ReadonlyArray<{ sku: string; quantity: number }>) =>
  Effect.gen(function* () {
    const actors = yield* ActorRuntime
    const shipmentId = Orders.shipmentIdOf(orderId)
    const at = yield* DateTime.now
    yield* actors.send(Shipment.Shipment, shipmentId, new Shipment.CreateShipment({ shipmentId, orderId, items, at }))
    return shipmentId
  }).pipe(Effect.orDie)

/** Posts a provider callback signed with `secret` (the test server's by default) at `timestamp`. */
export const postCallback = (
  body: Record<string, unknown> | string,
  options: { readonly secret?: string; readonly timestamp?: number; readonly signature?: string | null } = {}
) => {
  const text = typeof body === "string" ? body : JSON.stringify(body)
  const signature =
    options.signature === undefined
      ? WebhookSignature.sign(options.secret ?? webhookSecret, text, options.timestamp)
      : options.signature
  return call("POST", "/api/payments/callback", {
    text,
    ...(signature === null ? {} : { headers: { "x-signature": signature } })
  })
}

/** The order's status as its owner reads it. */
export const statusOf = (orderId: string, token: string) =>
  Effect.map(call("GET", `/api/orders/${orderId}`, { token }), (r) => r.body.status as Order.OrderStatus)
