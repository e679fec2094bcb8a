/**
 * The saga over the real stack on a fresh PostgreSQL database: event store,
 * actors, the app services and the coordinator, with a payment provider that
 * records requests (tests answer them through `Payments`, as the webhook
 * does), and helpers to stage products, accounts and orders.
 */
import { randomUUID } from "node:crypto"
import { InProcessActorRuntime } from "@agora/actors"
import { Money, type Order } from "@agora/domain"
import { Lease, PgEventStore } from "@agora/eventstore"
import { MemoryReadModelStore } from "@agora/readmodels"
import { TestDatabase } from "@agora/testkit"
import { assert } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import {
  Accounts,
  Catalog,
  FulfilmentSaga,
  Orders,
  PaymentProvider,
  Payments,
  ReadModels,
  Shipments
} from "../../src/index.ts"

/** What the provider was asked, in order. */
export const providerRequests: Array<PaymentProvider.PaymentRequest> = []

const RecordingProvider = Layer.succeed(
  PaymentProvider.PaymentProvider,
  PaymentProvider.PaymentProvider.of({
    request: (payment) => Effect.sync(() => void providerRequests.push(payment))
  })
)

export const makeStack = (label: string, config: Record<string, string> = {}) => {
  const stores = Layer.merge(PgEventStore.layer(), Lease.layer).pipe(Layer.provideMerge(TestDatabase.layer(label)))
  return Layer.mergeAll(FulfilmentSaga.layer).pipe(
    Layer.provideMerge(
      Layer.mergeAll(Orders.layer, Accounts.layer, Catalog.layer, Payments.layer, Shipments.layer, RecordingProvider)
    ),
    Layer.provideMerge(ReadModels.layer.pipe(Layer.provideMerge(MemoryReadModelStore.layer))),
    Layer.provideMerge(InProcessActorRuntime.layer()),
    Layer.provideMerge(stores),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ PAYMENT_TIMEOUT: "60 seconds", ...config }))),
    Layer.orDie
  )
}

export const freshSku = () => `SAGA-${randomUUID().slice(0, 8).toUpperCase()}`

export const product = (price: number, stock: number) =>
  Effect.gen(function* () {
    const sku = freshSku()
    yield* Effect.orDie(
      (yield* Catalog.Catalog).defineProduct({
        sku,
        name: `Part ${sku}`,
        price: Money.make(price),
        initialStock: stock
      })
    )
    return sku
  })

/** A user id with an account holding `balance` (minor units; no account when undefined). */
export const customer = (balance: number | undefined) =>
  Effect.gen(function* () {
    const userId = randomUUID()
    if (balance === undefined) return userId
    const accounts = yield* Accounts.Accounts
    yield* Effect.orDie(accounts.open(userId))
    if (balance > 0) yield* Effect.orDie(accounts.topUp(userId, Money.make(balance)))
    return userId
  })

export const place = (
  userId: string,
  items: ReadonlyArray<{ sku: string; quantity: number }>,
  method: "account" | "card" = "account",
  cardToken?: string
) =>
  Effect.flatMap(Orders.Orders, (orders) =>
    orders.place(userId, { items, paymentMethod: method, ...(cardToken === undefined ? {} : { cardToken }) })
  ).pipe(
    Effect.map(({ order }) => order),
    Effect.orDie
  )

const admin = { userId: "admin", admin: true }

/** Reads once the read models have every event committed before the read. */
const caughtUp = <A, E, R>(read: Effect.Effect<A, E, R>) => Effect.andThen(ReadModels.awaitCaughtUp(), read)

export const orderOf = (orderId: string) =>
  caughtUp(Effect.flatMap(Orders.Orders, (orders) => orders.get(orderId, admin))).pipe(Effect.orDie)

/** Waits (up to 10 s) until the order has the status; returns it. */
export const awaitStatus = (orderId: string, status: Order.OrderStatus, within = Duration.seconds(10)) =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(within)
    while (true) {
      const order = yield* orderOf(orderId)
      if (order.status === status) return order
      if (Date.now() > deadline) return assert.fail(`order ${orderId} is ${order.status}, not ${status}`)
      yield* Effect.sleep("20 millis")
    }
  })

export const balanceOf = (userId: string) =>
  caughtUp(Effect.flatMap(Accounts.Accounts, (accounts) => accounts.get(userId))).pipe(
    Effect.map((a) => a.balance as number),
    Effect.orDie
  )

export const stockOf = (sku: string) =>
  caughtUp(Effect.flatMap(Catalog.Catalog, (catalog) => catalog.stock(sku))).pipe(Effect.orDie)

export const paymentOf = (paymentId: string) =>
  Effect.flatMap(Payments.Payments, (payments) => payments.get(paymentId, admin)).pipe(Effect.orDie)
