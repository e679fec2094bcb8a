/**
 * Orders as their owner and the admin see them: place one (priced here from
 * the inventory actors, never from the client), read it, list a user's
 * orders, cancel, the admin's status override, and the event history.
 *
 * Visibility is a rule of this service, not of the HTTP layer: an order is
 * visible to its owner and to admins; to anyone else it does not exist
 * (`OrderNotFound`), so ids cannot be probed. Commands are checked against
 * the order's actor (the state they are decided on); reads — an order, a
 * user's orders — come from the `orders` read model (`readmodels/OrderViews`),
 * folded from the event store on a miss. A read model trails the log by the
 * projection's lag: a client that must see its own write passes the write's
 * position as `min_position` (the HTTP edge waits for it). With the read-model
 * store down, lists use the index in PostgreSQL (`OrderListProjection`),
 * which a list waits for (bounded) to reach the log's head.
 */
import { ActorRuntime, KeyedRequest } from "@agora/actors"
import { InventoryItem, Money, Order, streamId } from "@agora/domain"
import { EventStore, Lease, Uuid } from "@agora/eventstore"
import { Projections, type ReadModelError } from "@agora/readmodels"
import { Clock, Config, Context, DateTime, Duration, Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import * as OrderListProjection from "./OrderListProjection.ts"
import * as OrderViews from "./readmodels/OrderViews.ts"
import * as ReadThrough from "./readmodels/ReadThrough.ts"

/** Who is asking: the owner sees their orders, an admin sees every order. */
export interface Viewer {
  readonly userId: string
  readonly admin: boolean
}

/** An order as the API shows it. */
export interface OrderView {
  readonly id: string
  readonly userId: string
  readonly status: Order.OrderStatus
  readonly statusReason: Order.CancelReason | null
  readonly lines: ReadonlyArray<Order.OrderLine>
  readonly total: Money.Money
  readonly currency: string
  readonly paymentMethod: "account" | "card"
  readonly paymentId: string | null
  readonly shipmentId: string | null
  readonly trackingNumber: string | null
  readonly createdAt: DateTime.Utc
  readonly updatedAt: DateTime.Utc
  readonly version: number
}

/** What a client asks for; everything else (prices, total, owner, status) is the server's. */
export interface OrderRequest {
  readonly items: ReadonlyArray<{ readonly sku: string; readonly quantity: number }>
  readonly paymentMethod: "account" | "card"
  readonly cardToken?: string | undefined
  /** The total the client expects; refused when it disagrees with the server's price. */
  readonly totalPrice?: Money.Money | undefined
}

/** One offending field of a request, by its path in the request. */
export interface RequestIssue {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

export interface OrderPage {
  readonly orders: ReadonlyArray<OrderView>
  readonly nextCursor: string | null
}

/** An event of an order's history. */
export interface HistoryEntry {
  readonly position: number
  readonly version: number
  readonly event: Order.OrderEvent
  readonly recordedAt: Date
}

export interface HistoryPage {
  readonly entries: ReadonlyArray<HistoryEntry>
  readonly nextCursor: string | null
}

/** The request cannot make an order: an unknown or repeated SKU, a missing card token, a wrong total. */
export class InvalidOrderRequest extends Schema.TaggedError<InvalidOrderRequest>()("InvalidOrderRequest", {
  issues: Schema.Array(
    Schema.Struct({ path: Schema.Array(Schema.Union([Schema.String, Schema.Number])), message: Schema.String })
  )
}) {
  override get message() {
    return this.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")
  }
}

/** The order is past the point where it can be cancelled (shipped, delivered, or cancelled already). */
export class OrderNotCancellable extends Schema.TaggedError<OrderNotCancellable>()("OrderNotCancellable", {
  orderId: Schema.String,
  status: Order.OrderStatus
}) {
  override get message() {
    return `order ${this.orderId} is ${this.status} and can no longer be cancelled`
  }
}

/** The user is unknown or not the caller (lists of another user's orders are not disclosed). */
export class OrdersNotVisible extends Schema.TaggedError<OrdersNotVisible>()("OrdersNotVisible", {
  userId: Schema.String
}) {}

/** A failure of the store or runtime, not of the request: the API answers 503. */
export class UnexpectedOrderError extends Schema.TaggedError<UnexpectedOrderError>()("UnexpectedOrderError", {
  cause: Schema.Defect()
}) {}

export class Orders extends Context.Service<
  Orders,
  {
    readonly place: (
      userId: string,
      request: OrderRequest
    ) => Effect.Effect<
      { readonly order: OrderView; readonly position: number | undefined },
      InvalidOrderRequest | UnexpectedOrderError
    >
    readonly get: (
      orderId: string,
      viewer: Viewer
    ) => Effect.Effect<OrderView, Order.OrderNotFound | UnexpectedOrderError>
    /** Newest first; the cursor is opaque. */
    readonly list: (
      userId: string,
      viewer: Viewer,
      page: { readonly limit: number; readonly cursor: string | undefined }
    ) => Effect.Effect<OrderPage, OrdersNotVisible | UnexpectedOrderError>
    readonly cancel: (
      orderId: string,
      viewer: Viewer
    ) => Effect.Effect<OrderView, Order.OrderNotFound | OrderNotCancellable | UnexpectedOrderError>
    /** The admin's override: one move of the state machine (or none, to the status the order has). */
    readonly setStatus: (
      orderId: string,
      status: Order.OrderStatus
    ) => Effect.Effect<OrderView, Order.OrderNotFound | Order.IllegalTransition | UnexpectedOrderError>
    /** Oldest first; the cursor is opaque. */
    readonly history: (
      orderId: string,
      viewer: Viewer,
      page: { readonly limit: number; readonly cursor: string | undefined }
    ) => Effect.Effect<HistoryPage, Order.OrderNotFound | UnexpectedOrderError>
  }
>()("@agora/app/Orders") {}

/** The payment and shipment of an order have ids derived from it, so every step that makes them agrees. */
export const paymentIdOf = (orderId: string): string => Uuid.fromName(`order/${orderId}/payment`)
export const shipmentIdOf = (orderId: string): string => Uuid.fromName(`order/${orderId}/shipment`)

/** How long a list waits for the order index to catch up with writes made before it. */
const indexPatience = Duration.seconds(2)

export const viewOf = (state: Order.PlacedOrder, version: number): OrderView => ({
  id: state.orderId,
  userId: state.userId,
  status: Order.statusOf(state),
  statusReason: state._tag === "Cancelled" ? state.reason : null,
  lines: state.lines,
  total: state.total,
  currency: state.currency,
  paymentMethod: state.paymentMethod,
  paymentId: "paymentId" in state ? state.paymentId : null,
  shipmentId: "shipmentId" in state ? state.shipmentId : null,
  trackingNumber: "trackingNumber" in state ? state.trackingNumber : null,
  createdAt: state.placedAt,
  updatedAt: state.updatedAt,
  version
})

const visibleTo = (state: Order.OrderState, viewer: Viewer): state is Order.PlacedOrder =>
  state._tag !== "NoOrder" && (viewer.admin || state.userId === viewer.userId)

const decodeEvent = Schema.decodeUnknownEffect(Order.OrderEvent)

/** Prices a request from the products' states; `undefined` products are unknown SKUs. */
export const price = (
  request: OrderRequest,
  products: ReadonlyMap<string, InventoryItem.Product>
):
  | {
      readonly _tag: "Priced"
      readonly lines: ReadonlyArray<Order.OrderLine>
      readonly total: Money.Money
      readonly currency: string
    }
  | { readonly _tag: "Invalid"; readonly issues: ReadonlyArray<RequestIssue> } => {
  const issues: Array<RequestIssue> = []
  const seen = new Set<string>()
  const lines: Array<Order.OrderLine> = []
  const currencies = new Set<string>()
  request.items.forEach(({ sku, quantity }, i) => {
    if (seen.has(sku)) {
      issues.push({ path: ["items", i, "sku"], message: `${sku} appears on another line; give each SKU once` })
      return
    }
    seen.add(sku)
    const product = products.get(sku)
    if (product === undefined) {
      issues.push({ path: ["items", i, "sku"], message: `no product has the SKU ${sku}` })
      return
    }
    currencies.add(product.currency)
    lines.push({ sku, name: product.name, quantity, unitPrice: product.price })
  })
  if (request.paymentMethod === "card" && (request.cardToken === undefined || request.cardToken === "")) {
    issues.push({ path: ["card_token"], message: "a card payment needs a card_token" })
  }
  if (currencies.size > 1) issues.push({ path: ["items"], message: "the products are priced in different currencies" })
  const total = lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0)
  if (!Money.isSafe(total)) issues.push({ path: ["items"], message: "the total is too large" })
  if (issues.length > 0) return { _tag: "Invalid", issues }
  if (request.totalPrice !== undefined && request.totalPrice !== total) {
    const message = `does not match the price of the items, ${Money.toDecimalString(total as Money.Money)}`
    return { _tag: "Invalid", issues: [{ path: ["total_price"], message }] }
  }
  return { _tag: "Priced", lines, total: total as Money.Money, currency: [...currencies][0] ?? "" }
}

export const make = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const store = yield* EventStore
  const sql = yield* SqlClient.SqlClient
  const defaultCurrency = yield* Config.String("DEFAULT_CURRENCY").pipe(Config.withDefault("RUB"))

  const withStores = <A, E>(effect: Effect.Effect<A, E, EventStore | SqlClient.SqlClient>) =>
    effect.pipe(Effect.provideService(EventStore, store), Effect.provideService(SqlClient.SqlClient, sql))

  yield* withStores(OrderListProjection.migrate)
  // One process at a time follows the log into the table, under the projection's lease.
  const lease = yield* Lease.Lease
  yield* Effect.forkScoped(lease.run(OrderListProjection.subscriptionName, withStores(OrderListProjection.runForever)))

  const reads = yield* ReadThrough.make
  const projections = yield* Projections
  const unexpected = (cause: unknown) => Effect.fail(new UnexpectedOrderError({ cause }))
  const infrastructure = { ConcurrencyConflict: unexpected, EventStoreError: unexpected } as const
  const impossible = { OrderAlreadyPlaced: unexpected, InvalidOrder: unexpected } as const

  const orderState = (orderId: string) =>
    Uuid.isUuid(orderId)
      ? actors.state(Order.Order, orderId).pipe(Effect.catchTags(infrastructure))
      : // Not an id we could have issued: no actor is woken for it.
        Effect.succeed({ state: Order.initialState, version: 0 })

  // Writes check the order on its actor (the authority); reads come from the read model.
  const visible = (orderId: string, viewer: Viewer) =>
    Effect.flatMap(orderState(orderId), ({ state, version }) =>
      visibleTo(state, viewer) ? Effect.succeed({ state, version }) : Effect.fail(new Order.OrderNotFound({ orderId }))
    )

  const foldOrder = (orderId: string) =>
    Effect.map(orderState(orderId), ({ state, version }) =>
      state._tag === "NoOrder" ? undefined : { version, value: state }
    )

  const orderDocs = { projection: OrderViews.name, codec: OrderViews.codec, ttlSeconds: OrderViews.ttlSeconds }

  // The hot read path (every GET of an order): plain combinators, no span of its own.
  const readOrder = (orderId: string) =>
    Uuid.isUuid(orderId)
      ? Effect.map(
          reads.readOne({ ...orderDocs, key: OrderViews.orderKey(orderId), fold: foldOrder(orderId) }),
          (doc) =>
            doc === undefined ? { state: Order.initialState, version: 0 } : { state: doc.value, version: doc.version }
        )
      : Effect.succeed({ state: Order.initialState, version: 0 })

  const productsOf = (skus: ReadonlyArray<string>) =>
    Effect.forEach(
      [...new Set(skus)],
      (sku) =>
        // A product's name and price are set once, when it is defined: a defined product in memory is current.
        actors.state(InventoryItem.InventoryItem, sku, { acceptStale: (state) => state._tag === "Product" }).pipe(
          Effect.map(({ state }) => (state._tag === "Product" ? [state] : [])),
          Effect.catchTags(infrastructure)
        ),
      { concurrency: 16 }
    ).pipe(Effect.map((found) => new Map(found.flat().map((product) => [product.sku, product]))))

  const place = Effect.fn("Orders.place")(function* (userId: string, request: OrderRequest) {
    const priced = price(request, yield* productsOf(request.items.map((item) => item.sku)))
    if (priced._tag === "Invalid") return yield* new InvalidOrderRequest({ issues: priced.issues })
    // Under an Idempotency-Key the id is the key's: a run of the same request after a crash places the same order.
    const keyed = yield* KeyedRequest
    const orderId = keyed === undefined ? Uuid.v7() : Uuid.fromName(`${keyed.name}/order`)
    const at = yield* DateTime.now
    const cardToken = request.paymentMethod === "card" && request.cardToken ? { cardToken: request.cardToken } : {}
    const result = yield* actors
      .send(
        Order.Order,
        orderId,
        new Order.PlaceOrder({
          orderId,
          userId,
          lines: priced.lines,
          total: priced.total,
          currency: priced.currency || defaultCurrency,
          paymentMethod: request.paymentMethod,
          ...cardToken,
          at
        }),
        // A new id (or, under an Idempotency-Key, most likely new): nothing to read first.
        { correlationId: orderId, expectNew: true }
      )
      .pipe(
        Effect.catchTags({
          ...infrastructure,
          ...impossible,
          OrderNotFound: unexpected,
          IllegalTransition: unexpected
        })
      )
    if (result.state._tag === "NoOrder") return yield* new UnexpectedOrderError({ cause: "no order after placing it" })
    // The order id is the correlation id of everything that follows: the saga, the outbox, the broker.
    yield* Effect.logInfo(`order placed: ${priced.lines.length} line(s), paid by ${request.paymentMethod}`).pipe(
      Effect.annotateLogs("correlation_id", orderId)
    )
    return { order: viewOf(result.state, result.version), position: result.position }
  })

  const get = (orderId: string, viewer: Viewer) => {
    // The document this process's projection runner committed last, when it holds it: the read model's answer,
    // with no effect to build (the hottest read). Anything else takes the read-through path.
    const held = projections.committed(OrderViews.name, OrderViews.orderKey(orderId))
    if (held !== undefined && visibleTo(held.value as Order.OrderState, viewer))
      return Effect.succeed(viewOf(held.value as Order.PlacedOrder, held.version))
    return Effect.flatMap(readOrder(orderId), ({ state, version }) =>
      visibleTo(state, viewer)
        ? Effect.succeed(viewOf(state, version))
        : Effect.fail(new Order.OrderNotFound({ orderId }))
    )
  }

  /** Waits until the order index has applied every event committed before now; gives up quietly after a while. */
  const awaitIndex = Effect.fn("Orders.awaitIndex")(function* () {
    const target = yield* store.headPosition.pipe(Effect.catch(unexpected))
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(indexPatience)
    while ((yield* withStores(OrderListProjection.position).pipe(Effect.catch(unexpected))) < target) {
      if ((yield* Clock.currentTimeMillis) > deadline) {
        return yield* Effect.logWarning(`user-orders projection has not reached position ${target} yet`)
      }
      yield* Effect.sleep("5 millis")
    }
  })

  const list = Effect.fn("Orders.list")(function* (
    userId: string,
    viewer: Viewer,
    page: { readonly limit: number; readonly cursor: string | undefined }
  ) {
    if (!viewer.admin && viewer.userId !== userId) return yield* new OrdersNotVisible({ userId })
    const before = page.cursor === undefined ? undefined : Number(page.cursor)
    if (before !== undefined && !Number.isSafeInteger(before)) return { orders: [], nextCursor: null }
    const rows = yield* reads.store
      .indexRange({ projection: OrderViews.name }, OrderViews.userKey(userId), {
        order: "desc",
        below: before,
        limit: page.limit + 1
      })
      .pipe(
        Effect.map((entries) => entries.map((entry) => ({ orderId: entry.member, position: entry.score }))),
        // The read-model store is down: the index the event store's database keeps answers instead.
        Effect.catch((error: ReadModelError) =>
          Effect.gen(function* () {
            yield* reads.storeDown(error)
            yield* awaitIndex()
            return yield* withStores(OrderListProjection.list(userId, { before, limit: page.limit + 1 })).pipe(
              Effect.catch(unexpected)
            )
          })
        )
      )
    const shown = rows.slice(0, page.limit)
    const docs = yield* reads.readMany({
      ...orderDocs,
      keys: shown.map((row) => OrderViews.orderKey(row.orderId)),
      fold: (key) => foldOrder(key.slice(OrderViews.orderKey("").length))
    })
    const orders = docs.flatMap((doc) =>
      doc === undefined || doc.value._tag === "NoOrder" ? [] : [viewOf(doc.value, doc.version)]
    )
    const last = shown.at(-1)
    return {
      orders,
      nextCursor: rows.length > page.limit && last !== undefined ? String(last.position) : null
    }
  })

  const cancel = Effect.fn("Orders.cancel")(function* (orderId: string, viewer: Viewer) {
    const before = yield* visible(orderId, viewer)
    if (before.state._tag === "Cancelled") {
      return yield* new OrderNotCancellable({ orderId, status: "CANCELLED" })
    }
    const at = yield* DateTime.now
    const result = yield* actors
      .send(Order.Order, orderId, new Order.CancelOrder({ orderId, reason: "cancelled_by_user", at }), {
        correlationId: orderId
      })
      .pipe(
        Effect.catchTags({
          ...infrastructure,
          ...impossible,
          OrderNotFound: unexpected,
          IllegalTransition: (e) => Effect.fail(new OrderNotCancellable({ orderId, status: e.from }))
        })
      )
    // Cancelled meanwhile for another reason (the saga got there first): not the caller's cancellation.
    if (result.events.length === 0) return yield* new OrderNotCancellable({ orderId, status: "CANCELLED" })
    if (result.state._tag === "NoOrder") return yield* new UnexpectedOrderError({ cause: "no order after cancelling" })
    return viewOf(result.state, result.version)
  })

  const commandFor = (orderId: string, status: Order.OrderStatus, at: DateTime.Utc) => {
    switch (status) {
      case "RESERVED":
        return new Order.MarkOrderReserved({ orderId, at })
      case "PAID":
        return new Order.MarkOrderPaid({ orderId, paymentId: paymentIdOf(orderId), at })
      case "SHIPPED":
        return new Order.MarkOrderShipped({
          orderId,
          shipmentId: shipmentIdOf(orderId),
          trackingNumber: `MANUAL-${orderId.slice(-12).toUpperCase()}`,
          at
        })
      case "DELIVERED":
        return new Order.MarkOrderDelivered({ orderId, at })
      case "CANCELLED":
        return new Order.CancelOrder({ orderId, reason: "cancelled_by_admin", at })
      case "PENDING":
        return undefined
    }
  }

  const setStatus = Effect.fn("Orders.setStatus")(function* (orderId: string, status: Order.OrderStatus) {
    const current = yield* visible(orderId, { userId: "", admin: true })
    const from = Order.statusOf(current.state)
    if (from === status) return viewOf(current.state, current.version)
    const command = commandFor(orderId, status, yield* DateTime.now)
    if (command === undefined) return yield* new Order.IllegalTransition({ orderId, from, to: status })
    const result = yield* actors
      .send(Order.Order, orderId, command, { correlationId: orderId })
      .pipe(Effect.catchTags({ ...infrastructure, ...impossible }))
    if (result.state._tag === "NoOrder") return yield* new Order.OrderNotFound({ orderId })
    return viewOf(result.state, result.version)
  })

  const history = Effect.fn("Orders.history")(function* (
    orderId: string,
    viewer: Viewer,
    page: { readonly limit: number; readonly cursor: string | undefined }
  ) {
    yield* visible(orderId, viewer)
    const after = page.cursor === undefined ? 0 : Number(page.cursor)
    if (!Number.isSafeInteger(after) || after < 0) return { entries: [], nextCursor: null }
    const recorded = yield* store
      .readStream(streamId(Order.Order, orderId), { fromVersion: after + 1, maxCount: page.limit + 1 })
      .pipe(Effect.catch(unexpected))
    const shown = recorded.slice(0, page.limit)
    const entries = yield* Effect.forEach(shown, (r) =>
      decodeEvent({ ...(r.data as object), _tag: r.type }).pipe(
        Effect.map((event) => ({ position: r.position, version: r.version, event, recordedAt: r.recordedAt })),
        Effect.catch(unexpected)
      )
    )
    const last = shown.at(-1)
    return {
      entries,
      nextCursor: recorded.length > page.limit && last !== undefined ? String(last.version) : null
    }
  })

  return Orders.of({ place, get, list, cancel, setStatus, history })
})

/** The service, with the order index projection running in the background for the layer's lifetime. */
export const layer = Layer.effect(Orders, make)
