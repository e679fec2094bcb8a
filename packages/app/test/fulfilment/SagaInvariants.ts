/**
 * The invariants of SPEC §5, checked once a scenario's inputs stopped and the
 * saga is quiet, from the actors' state and the event streams themselves:
 *
 * 1. money is conserved (per account and in total) and no balance was ever
 *    below zero;
 * 2. stock is conserved per SKU, never below zero, and what was shipped is
 *    exactly what the shipped orders hold;
 * 3. every order is SHIPPED or CANCELLED, and a cancelled one holds no stock,
 *    no debit and no captured card payment;
 * 4. no shipment without a successful payment, at most one debit per order;
 * 5. no effect twice: no event type repeats in an order's, saga's, payment's
 *    or shipment's stream, nor per order in a SKU's or account's stream.
 *
 * Each final state must also have a cause among the inputs (a shipped order
 * got an `order.shipped`, a `payment_timeout` a deadline, ...).
 */
import { ActorRuntime } from "@agora/actors"
import {
  type Aggregate,
  Fulfilment,
  InventoryItem,
  Order,
  Payment,
  PaymentAccount,
  Shipment,
  streamId
} from "@agora/domain"
import { EventStore } from "@agora/eventstore"
import { Effect } from "effect"
import { Accounts, Orders, ReadModels } from "../../src/index.ts"
import { type Outcome, totalOf } from "./SagaDriver.ts"
import type { Scenario } from "./SagaScenario.ts"

const repeated = (types: ReadonlyArray<string>): ReadonlyArray<string> =>
  [...new Set(types.filter((type, i) => types.indexOf(type) !== i))].sort()

const count = <T>(items: ReadonlyArray<T>, predicate: (item: T) => boolean) =>
  items.reduce((n, item) => (predicate(item) ? n + 1 : n), 0)

/** Every violation found, in words (none: the scenario passed). */
export const check = (scenario: Scenario, outcome: Outcome) =>
  Effect.gen(function* () {
    const actors = yield* ActorRuntime
    const store = yield* EventStore
    const accounts = yield* Accounts.Accounts
    const violations: Array<string> = [...outcome.problems]
    const fail = (message: string) => void violations.push(message)
    // The ledger is read from its read model: checked once that has every event.
    if (!(yield* ReadModels.awaitCaughtUp())) fail("the read models did not catch up with the log")
    const stream = (id: string) => Effect.orDie(store.readStream(id))
    const stateOf = <C, E extends { readonly _tag: string }, S, Err>(aggregate: Aggregate<C, E, S, Err>, id: string) =>
      Effect.map(Effect.orDie(actors.state(aggregate, id)), ({ state }) => state)

    const orderName = new Map(outcome.orderIds.flatMap((id, i) => (id === undefined ? [] : [[id, `o${i}`] as const])))
    const nameOf = (orderId: string) => orderName.get(orderId) ?? `a foreign order ${orderId}`

    // Orders (3, 4, 5), and what each one's final state says about the stock and the money.
    const shippedQuantity = outcome.skuIds.map(() => 0)
    const status = new Map<string, Order.OrderStatus>()
    for (const [i, orderId] of outcome.orderIds.entries()) {
      if (orderId === undefined) continue
      const plan = scenario.orders[i]!
      const o = `o${i}`
      const order = yield* stateOf(Order.Order, orderId)
      if (order._tag === "NoOrder") {
        fail(`${o}: no order`)
        continue
      }
      const saga = yield* stateOf(Fulfilment.Fulfilment, orderId)
      const payment = yield* stateOf(Payment.Payment, Orders.paymentIdOf(orderId))
      const shipment = yield* stateOf(Shipment.Shipment, Orders.shipmentIdOf(orderId))
      const orderEvents = (yield* stream(streamId(Order.Order, orderId))).map((e) => e.type)
      const sagaEvents = (yield* stream(streamId(Fulfilment.Fulfilment, orderId))).map((e) => e.type)
      const paymentEvents = (yield* stream(streamId(Payment.Payment, Orders.paymentIdOf(orderId)))).map((e) => e.type)
      const shipmentEvents = (yield* stream(streamId(Shipment.Shipment, Orders.shipmentIdOf(orderId)))).map(
        (e) => e.type
      )
      const s = Order.statusOf(order)
      status.set(orderId, s)

      // 3: terminal, and the saga agrees.
      if (s !== "SHIPPED" && s !== "DELIVERED" && s !== "CANCELLED") fail(`${o} is ${s} after the inputs stopped`)
      if (saga._tag !== "Saga") fail(`${o}: its saga never started`)
      else {
        const expected = s === "CANCELLED" ? "cancelled" : "shipped"
        if (saga.stage !== expected) fail(`${o} is ${s} but its saga is at ${saga.stage}`)
        if (saga.lateRefundDue) fail(`${o}: its saga still owes a late refund`)
      }

      // 5: each transition once.
      for (const [what, types] of [
        ["order", orderEvents],
        ["saga", sagaEvents],
        ["payment", paymentEvents],
        ["shipment", shipmentEvents]
      ] as const) {
        const twice = repeated(types)
        if (twice.length > 0)
          fail(`${o}: its ${what} stream has ${twice.join(", ")} more than once: ${types.join(" → ")}`)
      }
      const successes = count(paymentEvents, (t) => t === "PaymentSucceeded" || t === "LatePaymentSucceeded")
      if (successes > 1) fail(`${o}: the payment succeeded ${successes} times`)
      if (paymentEvents.includes("PaymentRefunded") && successes === 0) fail(`${o}: a refund of a payment never taken`)

      // 4: no shipment without a successful (timely) payment.
      if (shipmentEvents.includes("ShipmentCreated") && !paymentEvents.includes("PaymentSucceeded")) {
        fail(`${o}: a shipment was created without a successful payment (${paymentEvents.join(" → ")})`)
      }
      if (orderEvents.includes("OrderPaid") && !paymentEvents.includes("PaymentSucceeded")) {
        fail(`${o}: marked PAID without a successful payment`)
      }

      if (s === "SHIPPED" || s === "DELIVERED") {
        if (payment._tag !== "Succeeded" || payment.late) fail(`${o} is ${s} but its payment is ${payment._tag}`)
        if (shipment._tag !== "Shipped" && shipment._tag !== "Delivered") {
          fail(`${o} is ${s} but its shipment is ${shipment._tag}`)
        }
        if (plan.payment !== "account" && plan.payment !== "tok_ok") fail(`${o} shipped on a ${plan.payment} card`)
        if (plan.payment !== "account" && outcome.providerSaid.get(i) !== "succeeded") {
          fail(`${o} shipped, but the provider never reported a success`)
        }
        const tracking = "trackingNumber" in order ? order.trackingNumber : ""
        if (!outcome.trackingNumbers.get(i)?.has(tracking)) {
          fail(`${o} shipped with tracking number ${tracking}, which no order.shipped message carried`)
        }
        for (const line of plan.lines) shippedQuantity[line.sku]! += line.quantity
      }

      if (s === "CANCELLED" && order._tag === "Cancelled") {
        // 3: nothing captured is kept.
        if (payment._tag === "Succeeded" || payment._tag === "Pending") {
          fail(
            `${o} is CANCELLED but its payment is ${payment._tag}${payment._tag === "Succeeded" && payment.late ? " (late)" : ""}`
          )
        }
        if (shipment._tag !== "NoShipment" && shipment._tag !== "Cancelled") {
          fail(`${o} is CANCELLED but its shipment is ${shipment._tag}`)
        }
        // The reason has a cause among the inputs.
        const reason = order.reason
        const causes: Record<Order.CancelReason, boolean> = {
          cancelled_by_user: outcome.ownerCancelled.has(i),
          cancelled_by_admin: false,
          out_of_stock: true,
          insufficient_funds: plan.payment === "account",
          payment_declined: outcome.providerSaid.get(i) === "failed",
          payment_timeout: outcome.deadlines.has(i),
          shipping_cancelled: outcome.carrierCancelled.has(i)
        }
        if (!causes[reason]) fail(`${o} is CANCELLED (${reason}), but nothing in the inputs caused that`)
      }

      // A success the provider reported is never lost: it ships the order, or it is given back.
      if (outcome.providerSaid.get(i) === "succeeded") {
        const kept = payment._tag === "Succeeded" && (s === "SHIPPED" || s === "DELIVERED")
        if (!kept && payment._tag !== "Refunded") {
          fail(`${o}: the provider took the money, and the payment is ${payment._tag} on a ${s} order`)
        }
      }
    }

    // 2: stock per SKU.
    for (const [k, sku] of outcome.skuIds.entries()) {
      const name = `s${k}`
      const product = yield* stateOf(InventoryItem.InventoryItem, sku)
      if (product._tag !== "Product") {
        fail(`${name}: not defined`)
        continue
      }
      const received = scenario.skus[k]!.stock + outcome.restocked[k]!
      const available = InventoryItem.available(product)
      const { onHand, reserved, shipped } = product
      if (product.received !== received) fail(`${name}: received ${product.received}, but ${received} came in`)
      if (onHand + shipped !== received) fail(`${name}: on hand ${onHand} + shipped ${shipped} ≠ received ${received}`)
      if (onHand < 0 || reserved < 0 || available < 0 || shipped < 0) {
        fail(`${name}: on hand ${onHand}, reserved ${reserved}, available ${available}, shipped ${shipped}`)
      }
      const held = Object.entries(InventoryItem.reservationsOf(product))
      const heldSum = held.reduce((sum, [, quantity]) => sum + quantity, 0)
      if (heldSum !== reserved) fail(`${name}: reserved ${reserved}, but its reservations add up to ${heldSum}`)
      for (const [orderId, quantity] of held) {
        fail(
          `${name}: ${nameOf(orderId)} (${status.get(orderId) ?? "?"}) still holds ${quantity} after the inputs stopped`
        )
      }
      if (shipped !== shippedQuantity[k])
        fail(`${name}: shipped ${shipped}, but the shipped orders hold ${shippedQuantity[k]}`)
      // 5: per order, one reservation, and it ends once.
      const events = yield* stream(streamId(InventoryItem.InventoryItem, sku))
      const byOrder = new Map<string, Array<string>>()
      for (const e of events) {
        const orderId = (e.data as { readonly orderId?: string }).orderId
        if (orderId !== undefined) byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), e.type])
      }
      for (const [orderId, types] of byOrder) {
        const ends = count(types, (t) => t === "StockReleased" || t === "StockShipped")
        if (repeated(types).length > 0 || ends > 1) fail(`${name}: for ${nameOf(orderId)}: ${types.join(" → ")}`)
        if (
          types.includes("StockShipped") &&
          status.get(orderId) !== "SHIPPED" &&
          status.get(orderId) !== "DELIVERED"
        ) {
          fail(`${name}: stock shipped for ${nameOf(orderId)}, which is ${status.get(orderId) ?? "?"}`)
        }
      }
    }

    // 1 and 4: money per account, and in total.
    let totalIn = 0
    let totalHeld = 0
    for (const [u, userId] of outcome.userIds.entries()) {
      const name = `u${u}`
      const account = yield* stateOf(PaymentAccount.PaymentAccount, userId)
      const toppedUp = outcome.toppedUp[u]!
      totalIn += toppedUp
      if (account._tag !== "Account") {
        if (toppedUp !== 0) fail(`${name}: topped up ${toppedUp} without an account`)
        continue
      }
      const entries: Array<PaymentAccount.LedgerEntry> = []
      let cursor: string | undefined
      do {
        const page = yield* Effect.orDie(accounts.ledger(userId, { limit: 50, cursor }))
        entries.push(...page.entries)
        cursor = page.nextCursor ?? undefined
      } while (cursor !== undefined)
      const sum = (kind: PaymentAccount.LedgerEntryKind) =>
        entries.filter((e) => e.kind === kind).reduce((total, e) => total + e.amount, 0)
      const [topUps, debits, refunds] = [sum("top_up"), sum("debit"), sum("refund")]
      totalHeld += account.balance + debits - refunds
      if (topUps !== toppedUp) fail(`${name}: the ledger has ${topUps} of top-ups, ${toppedUp} were made`)
      if (account.toppedUp !== toppedUp)
        fail(`${name}: the account counts ${account.toppedUp} of top-ups, ${toppedUp} were made`)
      if (account.balance !== topUps - debits + refunds) {
        fail(`${name}: balance ${account.balance} ≠ top-ups ${topUps} − debits ${debits} + refunds ${refunds}`)
      }
      if (account.balance < 0 || entries.some((e) => e.balanceAfter < 0)) fail(`${name}: a balance below zero`)
      const events = yield* stream(streamId(PaymentAccount.PaymentAccount, userId))
      const byOrder = new Map<string, Array<string>>()
      for (const e of events) {
        const orderId = (e.data as { readonly orderId?: string }).orderId
        if (orderId !== undefined) byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), e.type])
      }
      for (const [orderId, types] of byOrder) {
        if (repeated(types).length > 0) fail(`${name}: for ${nameOf(orderId)}: ${types.join(" → ")}`)
        if (types[0] !== "AccountDebited") fail(`${name}: ${nameOf(orderId)} refunded before any debit`)
      }
      for (const [orderId, debit] of Object.entries(PaymentAccount.debitsOf(account))) {
        const i = outcome.orderIds.indexOf(orderId)
        const plan = scenario.orders[i]
        if (plan === undefined || plan.payment !== "account" || outcome.userIds[plan.user] !== userId) {
          fail(`${name}: debited for ${nameOf(orderId)}, which it does not pay by account`)
          continue
        }
        if (debit.amount !== totalOf(scenario, plan)) fail(`${name}: debited ${debit.amount} for o${i}`)
        const s = status.get(orderId)
        if (s === "CANCELLED" && !debit.refunded) fail(`${name}: o${i} is CANCELLED but its debit is not refunded`)
        if ((s === "SHIPPED" || s === "DELIVERED") && debit.refunded) fail(`${name}: o${i} is ${s} but refunded`)
      }
    }
    if (totalIn !== totalHeld) fail(`money: ${totalIn} came in, balances and net debits hold ${totalHeld}`)
    for (const [i, orderId] of outcome.orderIds.entries()) {
      const plan = scenario.orders[i]!
      const s = orderId === undefined ? undefined : status.get(orderId)
      if (plan.payment !== "account" || orderId === undefined || (s !== "SHIPPED" && s !== "DELIVERED")) continue
      const account = yield* stateOf(PaymentAccount.PaymentAccount, outcome.userIds[plan.user]!)
      if (account._tag !== "Account" || PaymentAccount.debitsOf(account)[orderId] === undefined)
        fail(`o${i} shipped with no debit`)
    }
    return violations
  })
