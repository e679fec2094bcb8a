/**
 * SPEC §5's invariants and the acknowledged writes, checked once the load has
 * stopped and the saga is quiet, over the event store (folded by the
 * deciders, `EventLog`) and over HTTP (what the owner and the admin are
 * shown, read with `min_position` at the log's head). The same checks as the
 * saga's model test (`packages/app/test/fulfilment/SagaInvariants.ts`), here
 * on the real server's state, plus the client's side:
 *
 * - every acknowledged order exists as it was answered, is visible to its
 *   owner (with the status the log has) and to no one else; every
 *   acknowledged top-up is in the account's stream and ledger exactly once,
 *   an unresolved one at most once, and no top-up came from nowhere; an
 *   acknowledged cancel ended the order `cancelled_by_user`;
 * 1. money is conserved per account, no balance below zero, the balance and
 *    the ledger served equal the stream's;
 * 2. stock is conserved per SKU, nothing reserved once all is quiet, shipped
 *    = what the shipped orders hold, the admin's view equals the stream's;
 * 3. every order is SHIPPED or CANCELLED, its saga finished and agreeing, a
 *    cancelled one holds no stock and no captured payment;
 * 4. no shipment without a successful payment, at most one debit per order;
 * 5. no effect twice: no event type repeats in an order's, saga's,
 *    payment's or shipment's stream, nor per order in a SKU's or account's.
 *
 * Each final state must also have a cause among the inputs (a declined card
 * for `payment_declined`, the shipping simulator's choice for
 * `shipping_cancelled`, ...).
 */

import { Orders } from "@agora/app"
import { Fulfilment, InventoryItem, Order, type Payment, PaymentAccount, type Shipment } from "@agora/domain"
import type { Client } from "./Client.ts"
import { mapLimit, sleep } from "./Concurrency.ts"
import type { StoredEvent, World } from "./EventLog.ts"
import { type Ledger, minorOf, type PaymentChoice, type PlaceOrder, type VirtualUser } from "./Ledger.ts"

export interface CheckOptions {
  readonly world: World
  readonly ledger: Ledger
  readonly client: Client
  readonly adminToken: string
  /** Each SKU the load orders, with the stock it started with. */
  readonly initialStock: ReadonlyMap<string, number>
  /** Whether the shipping simulator cancels this order rather than ships it. */
  readonly shippingCancels: (orderId: string, skus: ReadonlyArray<string>) => boolean
  /** Whether a `tok_ok`/`tok_slow` payment may time out (the server or its database was away longer than the timeout). */
  readonly cardTimeoutsPossible: boolean
}

export interface CheckResult {
  readonly violations: ReadonlyArray<string>
  /** Acknowledged writes whose effect was looked for. */
  readonly checked: number
}

const repeated = (types: ReadonlyArray<string>): ReadonlyArray<string> =>
  [...new Set(types.filter((type, i) => types.indexOf(type) !== i))].sort()

const count = <T>(items: ReadonlyArray<T>, predicate: (item: T) => boolean) =>
  items.reduce((n, item) => (predicate(item) ? n + 1 : n), 0)

/** Every page of a list, read with `min_position`; undefined when a page did not answer 200. */
const readAll = async (client: Client, path: string, token: string, minPosition: number) => {
  const data: Array<Record<string, unknown>> = []
  let cursor: string | null = null
  do {
    const query: string = `limit=100&min_position=${minPosition}${cursor === null ? "" : `&cursor=${cursor}`}`
    const answer = await readStable(client, `${path}?${query}`, token)
    if (answer.status !== 200) return { status: answer.status, data: undefined }
    data.push(...(answer.body.data as Array<Record<string, unknown>>))
    cursor = answer.body.next_cursor as string | null
  } while (cursor !== null)
  return { status: 200, data }
}

/** A GET, asked again a few times while it answers 503 (a read model still catching up) or nothing. */
const readStable = async (client: Client, path: string, token: string) => {
  for (let attempt = 1; ; attempt++) {
    const answer = await client.send("GET", path, { token })
    if ((answer.status !== 503 && answer.status !== 0) || attempt >= 5) return answer
    await sleep(500)
  }
}

const typesOf = (events: ReadonlyArray<StoredEvent> | undefined) => (events ?? []).map((e) => e.type)

export const check = async (options: CheckOptions): Promise<CheckResult> => {
  const { world, ledger, client, adminToken } = options
  const violations: Array<string> = []
  const fail = (message: string) => void violations.push(message)
  const head = world.head
  const userById = new Map(ledger.users.map((u) => [u.userId, u]))
  const nameOf = (userId: string) => {
    const user = userById.get(userId)
    return user === undefined ? `a foreign user ${userId}` : `u${user.index}`
  }
  const stream = (type: string, id: string) => world.streams.get(`${type}-${id}`)
  let checked = 0

  // What the client asked for, by order.
  const placed = new Map(ledger.placedOrders().map((p) => [p.id, p]))
  const cancelRequests = new Set(ledger.writes.flatMap((w) => (w._tag === "CancelOrder" ? [w.orderId] : [])))

  // 3, 4, 5: every order in the log, acknowledged or not.
  const status = new Map<string, Order.OrderStatus>()
  const shippedQuantity = new Map<string, number>()
  for (const [orderId, order] of world.orders) {
    const o = `order ${orderId} (${nameOf(order.userId)})`
    const s = Order.statusOf(order)
    status.set(orderId, s)
    if (!userById.has(order.userId)) fail(`${o}: placed by no virtual user`)
    const saga = world.sagas.get(orderId) ?? Fulfilment.initialState
    const paymentId = Orders.paymentIdOf(orderId)
    const shipmentId = Orders.shipmentIdOf(orderId)
    const payment: Payment.PaymentState = world.payments.get(paymentId) ?? { _tag: "NoPayment" }
    const shipment: Shipment.ShipmentState = world.shipments.get(shipmentId) ?? { _tag: "NoShipment" }
    const orderEvents = typesOf(stream("order", orderId))
    const sagaEvents = typesOf(stream("fulfilment", orderId))
    const paymentEvents = typesOf(stream("payment", paymentId))
    const shipmentEvents = typesOf(stream("shipment", shipmentId))
    const token: PaymentChoice | undefined =
      saga._tag === "Saga" ? (saga.method === "account" ? "account" : (saga.cardToken as PaymentChoice)) : undefined

    if (s !== "SHIPPED" && s !== "DELIVERED" && s !== "CANCELLED") fail(`${o} is ${s} after the load stopped`)
    if (saga._tag !== "Saga") fail(`${o}: its saga never started`)
    else {
      const expected = s === "CANCELLED" ? "cancelled" : "shipped"
      if (saga.stage !== expected) fail(`${o} is ${s} but its saga is at ${saga.stage}`)
      if (saga.lateRefundDue) fail(`${o}: its saga still owes a late refund`)
    }
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
    if (shipmentEvents.includes("ShipmentCreated") && !paymentEvents.includes("PaymentSucceeded")) {
      fail(`${o}: a shipment without a successful payment (${paymentEvents.join(" → ")})`)
    }
    if (orderEvents.includes("OrderPaid") && !paymentEvents.includes("PaymentSucceeded")) {
      fail(`${o}: marked PAID without a successful payment`)
    }
    const skus = order.lines.map((line) => line.sku)
    const carrierCancels = options.shippingCancels(orderId, skus)

    if (s === "SHIPPED" || s === "DELIVERED") {
      if (payment._tag !== "Succeeded" || payment.late) fail(`${o} is ${s} but its payment is ${payment._tag}`)
      if (shipment._tag !== "Shipped" && shipment._tag !== "Delivered") {
        fail(`${o} is ${s} but its shipment is ${shipment._tag}`)
      }
      if (token !== "account" && token !== "tok_ok" && token !== "tok_slow") fail(`${o} shipped, paid with ${token}`)
      if (carrierCancels) fail(`${o} shipped, but the shipping service cancels it`)
      for (const line of order.lines)
        shippedQuantity.set(line.sku, (shippedQuantity.get(line.sku) ?? 0) + line.quantity)
    }
    if (order._tag === "Cancelled") {
      if (payment._tag === "Succeeded" || payment._tag === "Pending") {
        fail(`${o} is CANCELLED (${order.reason}) but its payment is ${payment._tag}`)
      }
      if (shipment._tag !== "NoShipment" && shipment._tag !== "Cancelled") {
        fail(`${o} is CANCELLED but its shipment is ${shipment._tag}`)
      }
      const causes: Record<Order.CancelReason, boolean> = {
        cancelled_by_user: cancelRequests.has(orderId),
        cancelled_by_admin: false,
        out_of_stock: true,
        insufficient_funds: token === "account",
        payment_declined: token === "tok_decline",
        payment_timeout: token === "tok_timeout" || (options.cardTimeoutsPossible && token !== "account"),
        shipping_cancelled: carrierCancels
      }
      if (!causes[order.reason])
        fail(`${o} is CANCELLED (${order.reason}), but nothing caused that (paid with ${token})`)
    }
    if (paymentEvents.includes("PaymentSucceeded") || paymentEvents.includes("LatePaymentSucceeded")) {
      const kept = payment._tag === "Succeeded" && (s === "SHIPPED" || s === "DELIVERED")
      if (!kept && payment._tag !== "Refunded")
        fail(`${o}: the money was taken, and the payment is ${payment._tag} on a ${s} order`)
    }
  }

  // Acknowledged orders and cancels: present, as answered.
  for (const p of placed.values()) {
    checked++
    const o = `acknowledged order ${p.id} (u${p.write.user})`
    const order = world.orders.get(p.id)
    const user = ledger.users[p.write.user]!
    if (order === undefined) {
      fail(`${o}: not in the event store`)
      continue
    }
    if (order.userId !== user.userId) fail(`${o}: belongs to ${nameOf(order.userId)}`)
    if (order.total !== p.total) fail(`${o}: total ${order.total}, answered ${p.total}`)
    const method = p.write.payment === "account" ? "account" : "card"
    if (order.paymentMethod !== method) fail(`${o}: paid by ${order.paymentMethod}, asked ${method}`)
    const lines = order.lines.map((l) => `${l.sku}×${l.quantity}`).join(",")
    const asked = p.write.lines.map((l) => `${l.sku}×${l.quantity}`).join(",")
    if (lines !== asked) fail(`${o}: lines ${lines}, asked ${asked}`)
    const saga = world.sagas.get(p.id)
    if (method === "card" && saga?._tag === "Saga" && saga.cardToken !== p.write.payment) {
      fail(`${o}: card ${saga.cardToken}, asked ${p.write.payment}`)
    }
  }
  // An order nobody was told about must be the effect of a request that got no definitive answer (at most one each):
  // anything else is a request that took effect twice (its retry placed a second order).
  const unanswered = ledger.writes.filter(
    (w): w is PlaceOrder => w._tag === "PlaceOrder" && w.outcome._tag === "unresolved"
  )
  const describeRequest = (user: number, lines: ReadonlyArray<{ sku: string; quantity: number }>, method: string) =>
    `${user}/${method}/${lines.map((l) => `${l.sku}×${l.quantity}`).join(",")}`
  const unansweredLeft = unanswered.map((w) =>
    describeRequest(w.user, w.lines, w.payment === "account" ? "account" : "card")
  )
  for (const [orderId, order] of world.orders) {
    if (placed.has(orderId)) continue
    const user = userById.get(order.userId)
    const shape = describeRequest(user?.index ?? -1, order.lines, order.paymentMethod)
    const match = unansweredLeft.indexOf(shape)
    if (match >= 0) {
      unansweredLeft.splice(match, 1)
      continue
    }
    const twin = [...placed.values()].find(
      (p) => describeRequest(p.write.user, p.write.lines, p.write.payment === "account" ? "account" : "card") === shape
    )
    fail(
      `order ${orderId} (${nameOf(order.userId)}, ${shape.split("/").slice(1).join(" ")}) matches no request left without an answer: a request took effect twice${twin === undefined ? "" : ` (the same request was acknowledged as order ${twin.id})`}`
    )
  }
  for (const w of ledger.writes) {
    if (w._tag !== "CancelOrder" || w.outcome._tag !== "acknowledged") continue
    checked++
    const order = world.orders.get(w.orderId)
    if (order?._tag !== "Cancelled" || order.reason !== "cancelled_by_user") {
      fail(
        `acknowledged cancel of ${w.orderId} (u${w.user}): the order is ${order === undefined ? "missing" : Order.statusOf(order)}${order?._tag === "Cancelled" ? ` (${order.reason})` : ""}`
      )
    }
  }

  // 2: stock per SKU, in the log and as the admin is shown it.
  for (const [sku, initial] of options.initialStock) {
    const product = world.inventory.get(sku) ?? InventoryItem.initialState
    if (product._tag !== "Product") {
      fail(`${sku}: not defined`)
      continue
    }
    const { onHand, reserved, shipped, received } = product
    const available = InventoryItem.available(product)
    if (received !== initial) fail(`${sku}: received ${received}, but it started with ${initial} and nobody restocked`)
    if (onHand + shipped !== received) fail(`${sku}: on hand ${onHand} + shipped ${shipped} ≠ received ${received}`)
    if (onHand < 0 || reserved < 0 || available < 0 || shipped < 0) {
      fail(`${sku}: on hand ${onHand}, reserved ${reserved}, available ${available}, shipped ${shipped}`)
    }
    const held = Object.entries(InventoryItem.reservationsOf(product))
    const heldSum = held.reduce((sum, [, quantity]) => sum + quantity, 0)
    if (heldSum !== reserved) fail(`${sku}: reserved ${reserved}, but its reservations add up to ${heldSum}`)
    for (const [orderId, quantity] of held) {
      fail(`${sku}: order ${orderId} (${status.get(orderId) ?? "?"}) still holds ${quantity}`)
    }
    if (shipped !== (shippedQuantity.get(sku) ?? 0)) {
      fail(`${sku}: shipped ${shipped}, but the shipped orders hold ${shippedQuantity.get(sku) ?? 0}`)
    }
    const byOrder = new Map<string, Array<string>>()
    for (const e of stream("inventory", sku) ?? []) {
      const orderId = e.data.orderId
      if (typeof orderId === "string") byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), e.type])
    }
    for (const [orderId, types] of byOrder) {
      const ends = count(types, (t) => t === "StockReleased" || t === "StockShipped")
      if (repeated(types).length > 0 || ends > 1) fail(`${sku}: for order ${orderId}: ${types.join(" → ")}`)
      const s = status.get(orderId)
      if (types.includes("StockShipped") && s !== "SHIPPED" && s !== "DELIVERED") {
        fail(`${sku}: stock shipped for order ${orderId}, which is ${s ?? "?"}`)
      }
    }
    const shown = await readStable(client, `/api/admin/inventory/${sku}?min_position=${head}`, adminToken)
    if (shown.status !== 200) fail(`${sku}: the admin's inventory answered ${shown.status}`)
    else if (shown.body.on_hand !== onHand || shown.body.reserved !== reserved || shown.body.shipped !== shipped) {
      fail(
        `${sku}: the admin is shown on hand ${shown.body.on_hand}, reserved ${shown.body.reserved}, shipped ${shown.body.shipped}; the log has ${onHand}, ${reserved}, ${shipped}`
      )
    }
  }

  // 1, 4 and the top-ups: per user, in the log and over HTTP.
  let totalIn = 0
  let totalHeld = 0
  const perUser = await mapLimit(ledger.users, 4, (user) => checkUser(options, user, status, placed, head))
  for (const result of perUser) {
    violations.push(...result.violations)
    checked += result.checked
    totalIn += result.toppedUp
    totalHeld += result.held
  }
  if (totalIn !== totalHeld) fail(`money: ${totalIn} came in, balances and net debits hold ${totalHeld}`)

  // What each acknowledged order's owner and another user are shown.
  const others = ledger.users
  const shownOrders = await mapLimit([...placed.values()], 8, async (p) => {
    const owner = ledger.users[p.write.user]!
    const stranger = others[(p.write.user + 1) % others.length]!
    const mine = await readStable(client, `/api/orders/${p.id}?min_position=${head}`, owner.token)
    const theirs =
      stranger === owner ? undefined : await client.send("GET", `/api/orders/${p.id}`, { token: stranger.token })
    return { p, mine, theirs }
  })
  for (const { p, mine, theirs } of shownOrders) {
    const o = `acknowledged order ${p.id} (u${p.write.user})`
    const expected = status.get(p.id)
    if (mine.status !== 200) fail(`${o}: its owner's GET answered ${mine.status}`)
    else if (mine.body.status !== expected)
      fail(`${o}: its owner is shown ${mine.body.status}, the log has ${expected}`)
    if (theirs !== undefined && theirs.status !== 404)
      fail(`${o}: another user's GET answered ${theirs.status}, not 404`)
  }
  return { violations, checked }
}

/** One user's money, top-ups and orders list. */
const checkUser = async (
  options: CheckOptions,
  user: VirtualUser,
  status: ReadonlyMap<string, Order.OrderStatus>,
  placed: ReadonlyMap<string, { readonly write: PlaceOrder; readonly total: number }>,
  head: number
) => {
  const { world, ledger, client } = options
  const violations: Array<string> = []
  const fail = (message: string) => void violations.push(message)
  const u = `u${user.index}`
  let checked = 0
  const account: PaymentAccount.PaymentAccountState = world.accounts.get(user.userId) ?? { _tag: "NoAccount" }
  if (account._tag !== "Account") {
    fail(`${u}: no account`)
    return { violations, checked, toppedUp: 0, held: 0 }
  }
  const events = world.streams.get(`account-${user.userId}`) ?? []
  const amountOf = (e: StoredEvent) => Number(e.data.amount)
  const sum = (type: string) => events.filter((e) => e.type === type).reduce((total, e) => total + amountOf(e), 0)
  const [topUps, debits, refunds] = [sum("AccountToppedUp"), sum("AccountDebited"), sum("DebitRefunded")]
  if (account.toppedUp !== topUps) fail(`${u}: the account counts ${account.toppedUp} of top-ups, its stream ${topUps}`)
  if (account.balance !== topUps - debits + refunds) {
    fail(`${u}: balance ${account.balance} ≠ top-ups ${topUps} − debits ${debits} + refunds ${refunds}`)
  }
  if (account.balance < 0 || events.some((e) => Number(e.data.balanceAfter) < 0)) fail(`${u}: a balance below zero`)

  // Top-ups: acknowledged exactly once, unresolved at most once, rejected never, none from nowhere.
  const inStream = new Map<number, number>()
  for (const e of events)
    if (e.type === "AccountToppedUp") inStream.set(amountOf(e), (inStream.get(amountOf(e)) ?? 0) + 1)
  const asked = new Map<number, string>()
  for (const w of ledger.writes) {
    if (w._tag !== "TopUp" || w.user !== user.index) continue
    asked.set(w.amount, w.outcome._tag)
    const n = inStream.get(w.amount) ?? 0
    if (w.outcome._tag === "acknowledged") {
      checked++
      if (n !== 1) fail(`${u}: the acknowledged top-up of ${w.amount} is in the account's stream ${n} times`)
    } else if (w.outcome._tag === "unresolved" ? n > 1 : n > 0) {
      fail(`${u}: the ${w.outcome._tag} top-up of ${w.amount} is in the account's stream ${n} times`)
    }
  }
  for (const [amount, n] of inStream) if (!asked.has(amount)) fail(`${u}: ${n} top-up(s) of ${amount} nobody asked for`)

  // Debits: one per order, of the order's total, for the user's own account orders, refunded iff cancelled.
  const byOrder = new Map<string, Array<string>>()
  for (const e of events) {
    const orderId = e.data.orderId
    if (typeof orderId === "string") byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), e.type])
  }
  for (const [orderId, types] of byOrder) {
    if (repeated(types).length > 0) fail(`${u}: for order ${orderId}: ${types.join(" → ")}`)
    if (types[0] !== "AccountDebited") fail(`${u}: order ${orderId} refunded before any debit`)
  }
  for (const [orderId, debit] of Object.entries(PaymentAccount.debitsOf(account))) {
    const order = world.orders.get(orderId)
    if (order === undefined || order.paymentMethod !== "account" || order.userId !== user.userId) {
      fail(`${u}: debited for order ${orderId}, which it does not pay by account`)
      continue
    }
    if (debit.amount !== order.total) fail(`${u}: debited ${debit.amount} for order ${orderId} of ${order.total}`)
    const s = status.get(orderId)
    if (s === "CANCELLED" && !debit.refunded) fail(`${u}: order ${orderId} is CANCELLED but its debit is not refunded`)
    if ((s === "SHIPPED" || s === "DELIVERED") && debit.refunded) fail(`${u}: order ${orderId} is ${s} but refunded`)
  }
  for (const [orderId, order] of world.orders) {
    if (order.userId !== user.userId || order.paymentMethod !== "account") continue
    const s = status.get(orderId)
    if ((s === "SHIPPED" || s === "DELIVERED") && PaymentAccount.debitsOf(account)[orderId] === undefined) {
      fail(`${u}: order ${orderId} shipped with no debit`)
    }
  }

  // What the owner is shown: the balance, the ledger, the list of orders.
  const me = await readStable(client, `/api/accounts/me?min_position=${head}`, user.token)
  if (me.status !== 200) fail(`${u}: GET /api/accounts/me answered ${me.status}`)
  else if (minorOf(me.body.balance) !== account.balance)
    fail(`${u}: shown balance ${me.body.balance}, the log has ${account.balance}`)
  const ledgerShown = await readAll(client, "/api/accounts/me/transactions", user.token, head)
  if (ledgerShown.data === undefined) fail(`${u}: the ledger answered ${ledgerShown.status}`)
  else {
    const entry = (kind: string, amount: number, orderId: unknown) => `${kind}/${amount}/${orderId ?? ""}`
    const kinds: Record<string, string> = {
      AccountToppedUp: "top_up",
      AccountDebited: "debit",
      DebitRefunded: "refund"
    }
    const expected = events
      .filter((e) => kinds[e.type] !== undefined)
      .map((e) => entry(kinds[e.type]!, amountOf(e), e.data.orderId))
      .sort()
    const shown = ledgerShown.data.map((e) => entry(String(e.kind), minorOf(String(e.amount)), e.order_id)).sort()
    if (expected.join("|") !== shown.join("|")) {
      const missing = expected.filter((x) => !shown.includes(x))
      const extra = shown.filter((x) => !expected.includes(x))
      fail(
        `${u}: the ledger shown differs from the stream: missing ${missing.join(", ") || "none"}; extra ${extra.join(", ") || "none"}`
      )
    }
  }
  const listed = await readAll(client, "/api/orders", user.token, head)
  if (listed.data === undefined) fail(`${u}: GET /api/orders answered ${listed.status}`)
  else {
    const shown = new Set(listed.data.map((o) => String(o.id)))
    const own = [...world.orders.values()].filter((o) => o.userId === user.userId).map((o) => o.orderId)
    const missing = own.filter((id) => !shown.has(id))
    if (missing.length > 0 || shown.size !== own.length) {
      fail(`${u}: lists ${shown.size} orders, the log has ${own.length} (missing: ${missing.join(", ") || "none"})`)
    }
    for (const id of placed.keys()) {
      if (placed.get(id)!.write.user === user.index && !shown.has(id)) fail(`${u}: acknowledged order ${id} not listed`)
    }
  }
  return { violations, checked, toppedUp: topUps, held: account.balance + debits - refunds }
}
