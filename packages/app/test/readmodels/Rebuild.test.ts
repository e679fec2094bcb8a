/**
 * A rebuild from the event log must produce exactly the read models the live
 * projections built event by event: on a seeded random history of more than
 * 10,000 events written concurrently through the real actors (products
 * defined and restocked, accounts topped up, debited and refunded, orders
 * placed, reserved, paid, shipped, delivered or cancelled, with the stock
 * moves that go with them), each projection is rebuilt into a new generation,
 * compared with the live one and switched to; then every order, account,
 * ledger and product the read models serve is checked against what the
 * actors fold and what the streams hold.
 *
 * The read models live in Redis (under a fresh prefix) when `REDIS_URL` is
 * set, in process otherwise.
 */
import { ActorRuntime, InProcessActorRuntime } from "@agora/actors"
import { InventoryItem, Money, Order, PaymentAccount, streamId } from "@agora/domain"
import { EventStore, Lease, PgEventStore, Uuid } from "@agora/eventstore"
import { MemoryReadModelStore, ReadModelStore, Rebuild } from "@agora/readmodels"
import * as ReadModelTesting from "@agora/readmodels/testing"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, layer } from "@effect/vitest"
import { DateTime, Effect, Layer, Schema } from "effect"
import { Accounts, AccountViews, Catalog, CatalogViews, Orders, OrderViews, ReadModels } from "../../src/index.ts"

const targetEvents = 10_000
const workers = 12
const userCount = 120
const skuCount = 40
const seed = 20_261_123

const redisUrl = process.env.REDIS_URL
const StoreLive = redisUrl ? ReadModelTesting.layerRedis(redisUrl) : MemoryReadModelStore.layer
const Stores = Layer.merge(PgEventStore.layer(), Lease.layer).pipe(
  Layer.provideMerge(TestDatabase.layer("rebuild", { maxConnections: 20 }))
)
const Stack = Layer.mergeAll(Orders.layer, Accounts.layer, Catalog.layer).pipe(
  Layer.provideMerge(ReadModels.layer.pipe(Layer.provideMerge(StoreLive))),
  Layer.provideMerge(InProcessActorRuntime.layer()),
  Layer.provideMerge(Stores),
  Layer.orDie
)

/** mulberry32: a small seeded generator, so a failing history can be replayed by its seed. */
const random = (start: number) => {
  let a = start >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  return {
    chance: (p: number) => next() < p,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)] as A
  }
}

type Random = ReturnType<typeof random>

interface ProductSpec {
  readonly sku: string
  readonly name: string
  readonly price: Money.Money
}

const skus = Array.from({ length: skuCount }, (_, i) => `RB-${String(i).padStart(3, "0")}`)
const products: ReadonlyArray<ProductSpec> = skus.map((sku, i) => ({
  sku,
  name: `Rebuilt part ${i}`,
  price: Money.make(100 + ((i * 7_919) % 9_900))
}))
const users = Array.from({ length: userCount }, (_, i) => Uuid.fromName(`rebuild-test/user/${seed}/${i}`))

/** Writes a seeded random history through the actors until the log holds `targetEvents` events. */
const generateHistory = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const placed = new Map<string, Array<string>>(users.map((user) => [user, []]))
  let highest = 0
  const note = <R extends { readonly position: number | undefined }>(result: R) => {
    if (result.position !== undefined && result.position > highest) highest = result.position
    return result
  }
  const now = DateTime.now

  const inventory = (sku: string, command: InventoryItem.InventoryCommand) =>
    Effect.map(actors.send(InventoryItem.InventoryItem, sku, command), note)
  const account = (userId: string, command: PaymentAccount.PaymentAccountCommand, commandId?: string) =>
    Effect.map(
      actors.send(PaymentAccount.PaymentAccount, userId, command, commandId === undefined ? {} : { commandId }),
      note
    )
  const order = (orderId: string, command: Order.OrderCommand) =>
    Effect.map(actors.send(Order.Order, orderId, command, { correlationId: orderId }), note)

  const topUp = (userId: string, amount: number) =>
    Effect.gen(function* () {
      const txId = Uuid.v7()
      yield* account(
        userId,
        new PaymentAccount.TopUpAccount({ userId, txId, amount: Money.make(amount), at: yield* now }),
        `top-up/${txId}`
      )
    })

  const restock = (rng: Random, sku: string, atLeast: number) =>
    Effect.gen(function* () {
      const quantity = atLeast + rng.int(10, 200)
      yield* inventory(sku, new InventoryItem.Restock({ sku, quantity, at: yield* now }))
    })

  const releaseAll = (orderId: string, lines: ReadonlyArray<Order.OrderLine>) =>
    Effect.forEach(
      lines,
      (line) =>
        Effect.flatMap(now, (at) => inventory(line.sku, new InventoryItem.Release({ sku: line.sku, orderId, at }))),
      { discard: true }
    )

  const cancel = (orderId: string, reason: Order.CancelReason) =>
    Effect.flatMap(now, (at) => order(orderId, new Order.CancelOrder({ orderId, reason, at })))

  /** One order from placement to where the dice stop it, with the stock and money moves that go with it. */
  const orderLifecycle = (rng: Random, userId: string) =>
    Effect.gen(function* () {
      const orderId = Uuid.v7()
      const chosen = new Set<ProductSpec>()
      const lineCount = rng.int(1, 3)
      while (chosen.size < lineCount) chosen.add(rng.pick(products))
      const lines = [...chosen].map((p) => ({
        sku: p.sku,
        name: p.name,
        quantity: rng.int(1, 4),
        unitPrice: p.price
      }))
      const total = Money.make(lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0))
      const byCard = rng.chance(0.2)
      yield* order(
        orderId,
        new Order.PlaceOrder({
          orderId,
          userId,
          lines,
          total,
          currency: "RUB",
          paymentMethod: byCard ? "card" : "account",
          ...(byCard ? { cardToken: `tok_${orderId.slice(-8)}` } : {}),
          at: yield* now
        })
      )
      placed.get(userId)?.push(orderId)
      // Some orders stop where they are (left to the saga, in real life), holding what they reserved.
      if (rng.chance(0.03)) return
      if (rng.chance(0.06)) return yield* cancel(orderId, "cancelled_by_user")

      for (const line of lines) {
        const reserve = Effect.flatMap(now, (at) =>
          inventory(line.sku, new InventoryItem.Reserve({ sku: line.sku, orderId, quantity: line.quantity, at }))
        )
        const reserved = yield* reserve.pipe(
          Effect.as(true),
          Effect.catchTag("OutOfStock", (out) =>
            rng.chance(0.5)
              ? Effect.as(Effect.andThen(restock(rng, line.sku, out.requested), reserve), true)
              : Effect.succeed(false)
          )
        )
        if (!reserved) {
          yield* releaseAll(orderId, lines)
          return yield* cancel(orderId, "out_of_stock")
        }
      }
      yield* order(orderId, new Order.MarkOrderReserved({ orderId, at: yield* now }))
      if (rng.chance(0.03)) return
      if (rng.chance(0.06)) {
        yield* releaseAll(orderId, lines)
        return yield* cancel(orderId, "cancelled_by_user")
      }

      if (!byCard) {
        const debit = Effect.flatMap(now, (at) =>
          account(userId, new PaymentAccount.DebitAccount({ userId, txId: Uuid.v7(), orderId, amount: total, at }))
        )
        const paid = yield* debit.pipe(
          Effect.as(true),
          Effect.catchTag("InsufficientFunds", () =>
            rng.chance(0.6)
              ? Effect.as(Effect.andThen(topUp(userId, total + rng.int(0, 50_000)), debit), true)
              : Effect.succeed(false)
          )
        )
        if (!paid) {
          yield* releaseAll(orderId, lines)
          return yield* cancel(orderId, "insufficient_funds")
        }
      }
      yield* order(
        orderId,
        new Order.MarkOrderPaid({ orderId, paymentId: Orders.paymentIdOf(orderId), at: yield* now })
      )
      if (rng.chance(0.03)) return
      if (rng.chance(0.05)) {
        if (!byCard) {
          yield* account(userId, new PaymentAccount.RefundDebit({ userId, txId: Uuid.v7(), orderId, at: yield* now }))
        }
        yield* releaseAll(orderId, lines)
        return yield* cancel(orderId, "cancelled_by_admin")
      }

      for (const line of lines) {
        yield* inventory(line.sku, new InventoryItem.CommitShipment({ sku: line.sku, orderId, at: yield* now }))
      }
      yield* order(
        orderId,
        new Order.MarkOrderShipped({
          orderId,
          shipmentId: Orders.shipmentIdOf(orderId),
          trackingNumber: `TRK-${orderId.slice(-12).toUpperCase()}`,
          at: yield* now
        })
      )
      if (rng.chance(0.8)) yield* order(orderId, new Order.MarkOrderDelivered({ orderId, at: yield* now }))
    })

  // The catalog and the accounts first, concurrently.
  const setup = random(seed)
  yield* Effect.forEach(
    products,
    (p) =>
      Effect.flatMap(now, (at) =>
        inventory(
          p.sku,
          new InventoryItem.DefineProduct({
            sku: p.sku,
            name: p.name,
            price: p.price,
            currency: "RUB",
            initialStock: setup.int(0, 60),
            at
          })
        )
      ),
    { concurrency: 8, discard: true }
  )
  yield* Effect.forEach(
    users,
    (userId) =>
      Effect.gen(function* () {
        yield* account(userId, new PaymentAccount.OpenAccount({ userId, currency: "RUB", at: yield* now }))
        if (setup.chance(0.7)) yield* topUp(userId, setup.int(1_000, 100_000))
      }),
    { concurrency: 8, discard: true }
  )

  // Then the workers, each on its own users (products are shared, so stock is contended).
  yield* Effect.forEach(
    Array.from({ length: workers }, (_, w) => w),
    (w) =>
      Effect.gen(function* () {
        const rng = random(seed + 1 + w)
        const mine = users.filter((_, i) => i % workers === w)
        while (highest < targetEvents) {
          const userId = rng.pick(mine)
          const roll = rng.int(1, 100)
          if (roll <= 8) yield* topUp(userId, rng.int(500, 60_000))
          else if (roll <= 12) yield* restock(rng, rng.pick(skus), 0)
          else yield* orderLifecycle(rng, userId)
        }
      }),
    { concurrency: "unbounded", discard: true }
  )
  return placed
}).pipe(Effect.orDie)

const decodeAccountEvent = Schema.decodeUnknownEffect(PaymentAccount.PaymentAccountEvent)
const encodeLedgerEntry = Schema.encodeSync(PaymentAccount.LedgerEntry)
/** Values compared as their JSON (dates as ISO text, so a decoded value equals a folded one). */
const json = (value: unknown) => JSON.stringify(value)

layer(Stack, { excludeTestServices: true, timeout: "180 seconds" })("Rebuild over a generated history", (it) => {
  describe("every projection", () => {
    it.effect("rebuild equals the incrementally built model on a generated history of ≥ 10,000 events", () =>
      Effect.gen(function* () {
        const actors = yield* ActorRuntime
        const events = yield* EventStore
        const store = yield* ReadModelStore
        const orders = yield* Orders.Orders
        const accounts = yield* Accounts.Accounts
        const catalog = yield* Catalog.Catalog

        const started = performance.now()
        const placed = yield* generateHistory
        const head = yield* events.headPosition
        const generatedMs = performance.now() - started
        const orderIds = [...placed.values()].flat()
        assert.isAtLeast(head, targetEvents)
        console.log(
          `rebuild test: ${head} events (${orderIds.length} orders, ${users.length} accounts, ${skus.length} products) ` +
            `written in ${(generatedMs / 1000).toFixed(1)} s; read models on ${redisUrl ? "Redis" : "the in-process store"}`
        )
        assert.isTrue(yield* ReadModels.awaitCaughtUp("30 seconds"), "the live projections caught up")

        const documents: Record<string, number> = {
          [OrderViews.name]: orderIds.length,
          [AccountViews.name]: users.length,
          [CatalogViews.name]: skus.length
        }
        for (const projection of ReadModels.projections) {
          const report = yield* Rebuild.rebuild(projection, { grace: "200 millis" })
          console.log(
            `rebuild ${projection.name}: ${report.events} events in ${report.elapsedMs} ms ` +
              `(${report.eventsPerSecond} events/s), ${report.docs} docs, ${report.indexes} indexes, ` +
              `${report.equal} equal, ${report.coldInLive} cold, ${report.differences.length} differences`
          )
          assert.deepStrictEqual(report.differences, [], `${projection.name}: the rebuilt generation differs`)
          assert.isTrue(report.switched, `${projection.name}: switched to the rebuilt generation`)
          assert.strictEqual(report.parked, 0)
          assert.isAtLeast(report.to, head)
          assert.strictEqual(report.events, report.to, "the rebuild read the whole log")
          // The live projections wrote every document (none has expired yet): all were compared.
          assert.strictEqual(report.coldInLive, 0)
          assert.isAtLeast(report.docs, documents[projection.name] ?? 0)
          assert.strictEqual(report.equal, report.docs + report.indexes)
        }
        const rebuilt = { orders: 0, accounts: 0, products: 0 }
        const statuses = new Map<Order.OrderStatus, number>()

        // Orders: the stored document is the actor's state at its version, and the service serves it.
        const admin: Orders.Viewer = { userId: "", admin: true }
        yield* Effect.forEach(
          orderIds,
          (orderId) =>
            Effect.gen(function* () {
              const folded = yield* actors.state(Order.Order, orderId)
              assert.notStrictEqual(folded.state._tag, "NoOrder")
              if (folded.state._tag === "NoOrder") return
              const [doc] = yield* store.getDocs({ projection: OrderViews.name }, [OrderViews.orderKey(orderId)])
              assert.isDefined(doc, `order ${orderId} is in the rebuilt read model`)
              assert.strictEqual(doc?.version, folded.version)
              assert.strictEqual(doc?.json, OrderViews.codec.encode(folded.state))
              const status = Order.statusOf(folded.state)
              statuses.set(status, (statuses.get(status) ?? 0) + 1)
              const view = yield* orders.get(orderId, admin)
              assert.strictEqual(json(view), json(Orders.viewOf(folded.state, folded.version)))
              rebuilt.orders++
            }),
          { concurrency: 16, discard: true }
        )
        console.log(`rebuild test: orders by status ${json(Object.fromEntries(statuses))}`)
        // The history reaches every state of an order.
        assert.sameMembers([...statuses.keys()], ["PENDING", "RESERVED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"])
        // Each user's list: every order placed, newest first.
        yield* Effect.forEach(
          users,
          (userId) =>
            Effect.gen(function* () {
              const page = yield* orders.list(userId, admin, { limit: 10_000, cursor: undefined })
              assert.deepStrictEqual(
                page.orders.map((o) => o.id),
                [...(placed.get(userId) ?? [])].reverse(),
                `orders of ${userId}`
              )
            }),
          { concurrency: 16, discard: true }
        )

        // Accounts: the balance the actor folds, and the ledger the stream's events make.
        yield* Effect.forEach(
          users,
          (userId) =>
            Effect.gen(function* () {
              const folded = yield* actors.state(PaymentAccount.PaymentAccount, userId)
              assert.strictEqual(folded.state._tag, "Account")
              if (folded.state._tag !== "Account") return
              const expected = { userId, balance: folded.state.balance, currency: folded.state.currency }
              const [doc] = yield* store.getDocs({ projection: AccountViews.name }, [AccountViews.accountKey(userId)])
              assert.strictEqual(doc?.version, folded.version, `account ${userId} is in the rebuilt read model`)
              assert.strictEqual(doc?.json, AccountViews.codec.encode(expected))
              assert.deepStrictEqual(yield* accounts.get(userId), expected)

              const recorded = yield* events.readStream(streamId(PaymentAccount.PaymentAccount, userId))
              assert.strictEqual(recorded.at(-1)?.version, folded.version)
              const fromStream: Array<{ version: number; entry: PaymentAccount.LedgerEntry }> = []
              for (const r of recorded) {
                const event = yield* decodeAccountEvent({ ...(r.data as object), _tag: r.type })
                const entry = PaymentAccount.ledgerEntryOf(event)
                if (entry !== undefined) fromStream.push({ version: r.version, entry })
              }
              fromStream.reverse()
              const index = yield* store.indexRange({ projection: AccountViews.name }, AccountViews.ledgerKey(userId), {
                order: "desc",
                limit: 100_000
              })
              assert.deepStrictEqual(
                index.map((e) => [e.score, e.member]),
                fromStream.map(({ version, entry }) => [version, AccountViews.ledgerEntryCodec.encode(entry)]),
                `ledger index of ${userId}`
              )
              // Through the service, a page at a time.
              const served: Array<PaymentAccount.LedgerEntry> = []
              let cursor: string | undefined
              do {
                const page = yield* accounts.ledger(userId, { limit: 25, cursor })
                served.push(...page.entries)
                cursor = page.nextCursor ?? undefined
              } while (cursor !== undefined)
              assert.deepStrictEqual(
                served.map((entry) => encodeLedgerEntry(entry)),
                fromStream.map(({ entry }) => encodeLedgerEntry(entry)),
                `ledger of ${userId}`
              )
              rebuilt.accounts++
            }),
          { concurrency: 16, discard: true }
        )

        // Products: the counts the inventory actor folds, in the document, the stock view and the catalog.
        const listed = yield* catalog.products({ limit: 1_000, cursor: undefined })
        assert.deepStrictEqual(
          listed.products.map((p) => p.sku),
          skus
        )
        yield* Effect.forEach(
          skus,
          (sku) =>
            Effect.gen(function* () {
              const folded = yield* actors.state(InventoryItem.InventoryItem, sku)
              assert.strictEqual(folded.state._tag, "Product")
              if (folded.state._tag !== "Product") return
              const product = folded.state
              const [doc] = yield* store.getDocs({ projection: CatalogViews.name }, [CatalogViews.productKey(sku)])
              assert.strictEqual(doc?.version, folded.version, `product ${sku} is in the rebuilt read model`)
              assert.strictEqual(doc?.json, CatalogViews.codec.encode(CatalogViews.docOf(product)))
              const available = product.onHand - product.reserved
              assert.deepStrictEqual(yield* catalog.stock(sku), {
                sku,
                onHand: product.onHand,
                reserved: product.reserved,
                available,
                shipped: product.shipped
              })
              assert.strictEqual((yield* catalog.product(sku)).available, available)
              assert.strictEqual(listed.products.find((p) => p.sku === sku)?.available, available)
              rebuilt.products++
            }),
          { concurrency: 16, discard: true }
        )
        assert.deepStrictEqual(rebuilt, { orders: orderIds.length, accounts: users.length, products: skus.length })
        console.log(`rebuild test: checked in ${((performance.now() - started) / 1000).toFixed(1)} s overall`)
      }).pipe(Effect.orDie)
    )
  })
})
