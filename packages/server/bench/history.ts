/**
 * A realistic event history for benchmarks, made by running the domain's own
 * deciders in memory (no server, no actors): a catalog of products defined and
 * restocked, users' payment accounts opened and topped up, and orders placed
 * and fulfilled — stock reserved line by line, the order marked reserved, the
 * account debited (or a card payment), the order paid, then shipped with its
 * stock shipped (and mostly delivered), or cancelled with its stock released
 * and its debit refunded. A few orders fail on their own: out of stock,
 * insufficient funds, a declined card. About two thousand orders are in
 * flight at once, so their streams interleave in the log as they would live.
 *
 * Events are encoded exactly as the actor runtime encodes them
 * (`InProcessActorRuntime`: the event schema's encoding without its `_tag`,
 * which becomes the stored type), so the projections decode them as they
 * decode live events. The history comes out as batches of `StreamAppend`s
 * (each stream at most once per batch, with its exact expected version), for
 * `EventStore.appendMulti`. Random choices are seeded: a run is reproducible.
 */
import { type Aggregate, InventoryItem, Money, Order, PaymentAccount } from "@agora/domain"
import { type EventMetadata, ExpectedVersion, type NewEvent, type StreamAppend } from "@agora/eventstore"
import { DateTime, Schema } from "effect"

export interface HistoryOptions {
  /** Stop once at least this many events were made. */
  readonly events: number
  /** Events per batch (default 5,000). */
  readonly batchEvents?: number
  /** Products in the catalog (default 2,000). */
  readonly products?: number
  /** Users at most (default 20,000); new ones sign up as orders come. */
  readonly users?: number
  /** Orders in flight at once (default 2,000). */
  readonly inFlight?: number
  readonly seed?: number
}

/** What was made, by stream type and by event type. */
export interface HistoryStats {
  events: number
  orders: number
  users: number
  products: number
  readonly byStreamType: Record<string, number>
  readonly byEventType: Record<string, number>
}

// biome-ignore lint/suspicious/noExplicitAny: cells of every aggregate share one table; each send is typed by its caller
type AnyAggregate = Aggregate<any, any, any, any>

interface Cell {
  readonly aggregate: AnyAggregate
  readonly streamId: string
  state: unknown
  version: number
}

interface Slot {
  readonly cell: Cell
  readonly expected: number
  readonly events: Array<NewEvent>
}

/** mulberry32: small, fast, seeded. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const encoders = new Map<AnyAggregate, (event: unknown) => Record<string, unknown>>()
const encoderOf = (aggregate: AnyAggregate) => {
  let encode = encoders.get(aggregate)
  if (encode === undefined) {
    encode = Schema.encodeSync(aggregate.eventSchema) as (event: unknown) => Record<string, unknown>
    encoders.set(aggregate, encode)
  }
  return encode
}

type Step = () => void

interface Flight {
  readonly steps: Array<Step>
}

/** Yields the history a batch at a time; `stats` fills in as it goes. */
export const generate = function* (
  options: HistoryOptions,
  stats: HistoryStats = {
    events: 0,
    orders: 0,
    users: 0,
    products: 0,
    byStreamType: {},
    byEventType: {}
  }
): Generator<ReadonlyArray<StreamAppend>, HistoryStats> {
  const random = prng(options.seed ?? 20261123)
  const batchEvents = options.batchEvents ?? 5_000
  const productCount = options.products ?? 2_000
  const maxUsers = options.users ?? 20_000
  const inFlight = options.inFlight ?? 2_000
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))
  // The clock of the history: 30 days ago onwards, a few tens of ms per event.
  let clock = Date.now() - 30 * 24 * 3600 * 1000
  const now = () => DateTime.makeUnsafe(clock)
  const word = () => ((random() * 0x100000000) >>> 0).toString(16).padStart(8, "0")
  /** A version 7 UUID at the history's clock, from the seeded generator (like `Uuid.v7`, without a syscall per id). */
  const uuid = () => {
    const time = clock.toString(16).padStart(12, "0")
    const a = word()
    const b = word()
    const c = word()
    return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${a.slice(0, 3)}-${"89ab"[(random() * 4) | 0]}${a.slice(3, 6)}-${b}${c.slice(0, 4)}`
  }

  let batch = new Map<string, Slot>()
  let batchCount = 0

  const cell = (aggregate: AnyAggregate, id: string): Cell => ({
    aggregate,
    streamId: `${aggregate.type}-${id}`,
    state: aggregate.initialState,
    version: 0
  })

  /** Decides `command` on the cell; its events join the batch. Returns the error when it is refused. */
  const send = (target: Cell, command: unknown, metadata: EventMetadata): unknown => {
    const decision = target.aggregate.decide(command, target.state)
    if (decision._tag === "Failure") return decision.failure
    const events: ReadonlyArray<{ readonly _tag: string }> = decision.success
    if (events.length === 0) return undefined
    let slot = batch.get(target.streamId)
    if (slot === undefined) {
      slot = { cell: target, expected: target.version, events: [] }
      batch.set(target.streamId, slot)
    }
    const encode = encoderOf(target.aggregate)
    for (const event of events) {
      const { _tag, ...data } = encode(event)
      slot.events.push({ eventId: uuid(), type: event._tag, data, metadata })
      target.state = target.aggregate.evolve(target.state, event)
      target.version++
      stats.byStreamType[target.aggregate.type] = (stats.byStreamType[target.aggregate.type] ?? 0) + 1
      stats.byEventType[event._tag] = (stats.byEventType[event._tag] ?? 0) + 1
    }
    stats.events += events.length
    batchCount += events.length
    clock += between(1, 60)
    return undefined
  }

  const takeBatch = (): ReadonlyArray<StreamAppend> => {
    const appends: Array<StreamAppend> = []
    for (const slot of batch.values()) {
      appends.push({
        streamId: slot.cell.streamId,
        expectedVersion: ExpectedVersion.exact(slot.expected),
        events: slot.events
      })
    }
    batch = new Map()
    batchCount = 0
    return appends
  }

  const unexpected = (what: string, error: unknown) => {
    throw new Error(`history: ${what} refused: ${JSON.stringify(error)}`)
  }
  const must = (what: string, error: unknown) => {
    if (error !== undefined) unexpected(what, error)
  }

  // The catalog.
  const products: Array<Cell> = []
  for (let i = 1; i <= productCount; i++) {
    const sku = `SKU-${String(i).padStart(5, "0")}`
    const product = cell(InventoryItem.InventoryItem, sku)
    const command = new InventoryItem.DefineProduct({
      sku,
      name: `Part ${i}: ${pick(["brake pad", "oil filter", "spark plug", "wiper blade", "air filter", "bulb"])}`,
      price: Money.make(between(100_00, 20_000_00)),
      currency: "RUB",
      initialStock: between(200, 1_000),
      at: now()
    })
    must("DefineProduct", send(product, command, {}))
    products.push(product)
    stats.products++
  }
  const productOf = (c: Cell) => c.state as InventoryItem.Product

  const restock = (product: Cell) =>
    must(
      "Restock",
      send(
        product,
        new InventoryItem.Restock({ sku: productOf(product).sku, quantity: between(300, 1_000), at: now() }),
        { correlationId: uuid() }
      )
    )

  // Accounts.
  const users: Array<Cell> = []
  const accountOf = (c: Cell) => c.state as PaymentAccount.Account
  const topUp = (account: Cell, correlationId: string) =>
    must(
      "TopUpAccount",
      send(
        account,
        new PaymentAccount.TopUpAccount({
          userId: accountOf(account).userId,
          txId: uuid(),
          amount: Money.make(between(5_000_00, 100_000_00)),
          at: now()
        }),
        { correlationId }
      )
    )
  const signUp = () => {
    const userId = uuid()
    const account = cell(PaymentAccount.PaymentAccount, userId)
    must("OpenAccount", send(account, new PaymentAccount.OpenAccount({ userId, currency: "RUB", at: now() }), {}))
    topUp(account, uuid())
    users.push(account)
    stats.users++
    return account
  }

  // Orders: each a list of steps, taken one at a time, interleaved with the other orders in flight.
  const flights: Array<Flight> = []
  const startOrder = () => {
    const account = users.length < maxUsers && (users.length < 100 || random() < 0.25) ? signUp() : pick(users)
    const orderId = uuid()
    const order = cell(Order.Order, orderId)
    const method: "account" | "card" = random() < 0.8 ? "account" : "card"
    const chosen = new Set<Cell>()
    const lineCount = random() < 0.5 ? 1 : random() < 0.7 ? 2 : between(3, 5)
    while (chosen.size < lineCount) chosen.add(pick(products))
    const lines = [...chosen].map((product) => ({
      product,
      sku: productOf(product).sku,
      name: productOf(product).name,
      quantity: random() < 0.8 ? 1 : between(2, 4),
      unitPrice: productOf(product).price
    }))
    const total = Money.make(lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0))
    const userId = accountOf(account).userId
    const meta = (): EventMetadata => ({ correlationId: orderId, causationId: uuid() })
    const steps: Array<Step> = []
    const reserved: Array<Cell> = []
    let paid = false

    const cancel = (reason: Order.CancelReason) => {
      steps.length = 0
      steps.push(() =>
        must("CancelOrder", send(order, new Order.CancelOrder({ orderId, reason, at: now() }), { ...meta() }))
      )
      for (const product of reserved) {
        steps.push(() =>
          must(
            "Release",
            send(product, new InventoryItem.Release({ sku: productOf(product).sku, orderId, at: now() }), meta())
          )
        )
      }
      if (paid && method === "account") {
        steps.push(() =>
          must(
            "RefundDebit",
            send(account, new PaymentAccount.RefundDebit({ userId, txId: uuid(), orderId, at: now() }), meta())
          )
        )
      }
    }

    // A user short of money tops up first, most of the time.
    if (method === "account" && accountOf(account).balance < total && random() < 0.8) topUp(account, orderId)
    must(
      "PlaceOrder",
      send(
        order,
        new Order.PlaceOrder({
          orderId,
          userId,
          lines: lines.map(({ sku, name, quantity, unitPrice }) => ({ sku, name, quantity, unitPrice })),
          total,
          currency: "RUB",
          paymentMethod: method,
          ...(method === "card" ? { cardToken: `tok_${orderId.slice(0, 8)}` } : {}),
          at: now()
        }),
        meta()
      )
    )
    stats.orders++
    for (const line of lines) {
      steps.push(() => {
        const refused = send(
          line.product,
          new InventoryItem.Reserve({ sku: line.sku, orderId, quantity: line.quantity, at: now() }),
          meta()
        )
        if (refused !== undefined) {
          if ((refused as { _tag?: string })._tag !== "OutOfStock") unexpected("Reserve", refused)
          if (random() < 0.9) restock(line.product)
          return cancel("out_of_stock")
        }
        reserved.push(line.product)
        const product = productOf(line.product)
        // Most low stock is noticed and restocked in time; not all of it.
        if (product.onHand - product.reserved < 25 && random() < 0.95) restock(line.product)
      })
    }
    steps.push(() =>
      must("MarkOrderReserved", send(order, new Order.MarkOrderReserved({ orderId, at: now() }), meta()))
    )
    const paymentId = uuid()
    steps.push(() => {
      if (method === "card") {
        if (random() < 0.03) return cancel("payment_declined")
      } else {
        const refused = send(
          account,
          new PaymentAccount.DebitAccount({ userId, txId: uuid(), orderId, amount: total, at: now() }),
          meta()
        )
        if (refused !== undefined) {
          if ((refused as { _tag?: string })._tag !== "InsufficientFunds") unexpected("DebitAccount", refused)
          if (random() < 0.7) topUp(account, uuid())
          return cancel("insufficient_funds")
        }
      }
      paid = true
      steps.unshift(() =>
        must("MarkOrderPaid", send(order, new Order.MarkOrderPaid({ orderId, paymentId, at: now() }), meta()))
      )
      if (random() < 0.06) {
        steps.push(() => cancel("cancelled_by_user"))
        return
      }
      const shipmentId = uuid()
      steps.push(() =>
        must(
          "MarkOrderShipped",
          send(
            order,
            new Order.MarkOrderShipped({
              orderId,
              shipmentId,
              trackingNumber: `TRK${shipmentId.slice(0, 8).toUpperCase()}`,
              at: now()
            }),
            meta()
          )
        )
      )
      for (const line of lines) {
        steps.push(() =>
          must(
            "CommitShipment",
            send(line.product, new InventoryItem.CommitShipment({ sku: line.sku, orderId, at: now() }), meta())
          )
        )
      }
      if (random() < 0.8) {
        steps.push(() =>
          must("MarkOrderDelivered", send(order, new Order.MarkOrderDelivered({ orderId, at: now() }), meta()))
        )
      }
    })
    flights.push({ steps })
  }

  while (stats.events < options.events) {
    if (flights.length < inFlight) startOrder()
    else {
      const i = Math.floor(random() * flights.length)
      const flight = flights[i]!
      flight.steps.shift()!()
      if (flight.steps.length === 0) {
        flights[i] = flights.at(-1)!
        flights.pop()
      }
    }
    if (batchCount >= batchEvents) yield takeBatch()
  }
  if (batchCount > 0) yield takeBatch()
  return stats
}
