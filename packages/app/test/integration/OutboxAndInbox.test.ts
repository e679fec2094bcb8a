/**
 * The outbox and the inbox around the saga, over PostgreSQL and the
 * in-process broker: integration events leave in the transaction of their
 * cause and reach the broker in order; the shipping service's answers come
 * in once per event id; unreadable messages are parked, never crash the
 * consumer; Agora's own messages are not taken for the shipping service's.
 */
import { randomUUID } from "node:crypto"
import { Broker, type IncomingMessage, InProcessBroker } from "@agora/broker"
import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Metric } from "effect"
import { SqlClient } from "effect/sql"
import { Integration, Orders, OutboxRelay, ShippingInbox } from "../../src/index.ts"
import { awaitStatus, customer, makeStack, place, product } from "../fulfilment/SagaHarness.ts"

const Stack = Integration.layer.pipe(
  Layer.provideMerge(makeStack("saga-integration")),
  Layer.provideMerge(InProcessBroker.layer()),
  Layer.orDie
)

/** Everything published on `topics` from now on, as parsed JSON, in delivery order. */
const listen = (
  topics: ReadonlyArray<
    "order.created" | "order.paid" | "order.shipped" | "order.cancelled" | "payment.succeeded" | "payment.failed"
  >
) =>
  Effect.gen(function* () {
    const broker = yield* Broker
    const received: Array<Record<string, unknown> & { topic: string }> = []
    yield* broker.subscribe({ group: `listener-${randomUUID()}`, topics }, (message: IncomingMessage) =>
      Effect.sync(() => void received.push({ ...JSON.parse(message.value), topic: message.topic }))
    )
    return received
  })

const until = (condition: () => boolean) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 10_000
    while (!condition()) {
      if (Date.now() > deadline) return assert.fail("timed out")
      yield* Effect.sleep("10 millis")
    }
  })

const publishShipped = (orderId: string, eventId: string, extra: Record<string, unknown> = {}) =>
  Effect.flatMap(Broker, (broker) =>
    broker.publish([
      {
        topic: "order.shipped",
        key: orderId,
        eventId,
        value: JSON.stringify({
          event_id: eventId,
          type: "order.shipped",
          occurred_at: new Date().toISOString(),
          order_id: orderId,
          shipment_id: Orders.shipmentIdOf(orderId),
          tracking_number: "TRK-XYZ",
          shipped_at: new Date().toISOString(),
          ...extra
        })
      }
    ])
  ).pipe(Effect.orDie)

layer(Stack, { excludeTestServices: true, timeout: "120 seconds" })("outbox and inbox", (it) => {
  describe("outbox", () => {
    it.effect("publishes order.created, payment.succeeded and order.paid, in commit order, with SPEC §4 fields", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const received = yield* listen(["order.created", "payment.succeeded", "order.paid"])
          const sku = yield* product(4_50, 10)
          const userId = yield* customer(100_00)
          const order = yield* place(userId, [{ sku, quantity: 2 }])
          yield* awaitStatus(order.id, "PAID")
          yield* until(() => received.filter((m) => m.order_id === order.id).length === 3)
          const mine = received.filter((m) => m.order_id === order.id)
          assert.deepStrictEqual(
            mine.map((m) => m.topic),
            ["order.created", "payment.succeeded", "order.paid"]
          )
          const [created, , paid] = mine
          assert.deepInclude(created, { type: "order.created", user_id: userId, total: "9.00", producer: "agora" })
          assert.deepInclude(paid, {
            type: "order.paid",
            shipment_id: Orders.shipmentIdOf(order.id),
            idempotency_key: Orders.shipmentIdOf(order.id)
          })
          assert.deepStrictEqual(paid!.items, [
            { item_id: `${Orders.shipmentIdOf(order.id)}/${sku}`, sku, quantity: 2 }
          ])
          for (const m of mine) {
            assert.match(String(m.event_id), /^[0-9a-f-]{36}$/)
            assert.isString(m.occurred_at)
          }
          // Marked published once the broker took them.
          const sql = yield* SqlClient.SqlClient
          let rows: ReadonlyArray<{ published: boolean }> = []
          while (rows.length < 3 || !rows.every((r) => r.published)) {
            rows = yield* sql<{ published: boolean }>`
              SELECT published_at IS NOT NULL AS published FROM outbox
              WHERE key = ${order.id} AND topic IN ('order.created', 'payment.succeeded', 'order.paid')`
            yield* Effect.sleep("10 millis")
          }
        })
      )
    )
  })

  describe("unanswered order.paid", () => {
    it.effect("is published again, with its event id, until the order is shipped or cancelled", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const received = yield* listen(["order.paid"])
          const sku = yield* product(2_00, 10)
          const userId = yield* customer(10_00)
          const order = yield* place(userId, [{ sku, quantity: 1 }])
          yield* awaitStatus(order.id, "PAID")
          yield* until(() => received.some((m) => m.order_id === order.id))
          const first = received.find((m) => m.order_id === order.id)!
          yield* Effect.sleep("20 millis")
          const again = yield* OutboxRelay.redeliverUnanswered(Duration.millis(1))
          assert.isAtLeast(again, 1)
          yield* until(() => received.filter((m) => m.order_id === order.id).length === 2)
          const copies = received.filter((m) => m.order_id === order.id)
          assert.strictEqual(copies[1]!.event_id, first.event_id)
          // Answered: never again.
          yield* publishShipped(order.id, randomUUID())
          yield* awaitStatus(order.id, "SHIPPED")
          const sql = yield* SqlClient.SqlClient
          const pending = sql`SELECT 1 FROM outbox WHERE key = ${order.id} AND published_at IS NULL`
          // The relay publishes what the shipment itself wrote (Agora's own order.shipped) first.
          while ((yield* pending).length > 0) yield* Effect.sleep("10 millis")
          yield* Effect.sleep("20 millis")
          // Other tests' orders may still be unanswered: only this order's rows are looked at.
          yield* OutboxRelay.redeliverUnanswered(Duration.millis(1))
          assert.strictEqual((yield* pending).length, 0)
        })
      )
    )
  })

  describe("shipping inbox", () => {
    it.effect("order.shipped ships the order once; the same event again is dropped as a duplicate", () =>
      Effect.gen(function* () {
        const sku = yield* product(1_00, 10)
        const userId = yield* customer(10_00)
        const order = yield* place(userId, [{ sku, quantity: 1 }])
        yield* awaitStatus(order.id, "PAID")
        const before = (yield* Metric.value(ShippingInbox.duplicates)).count
        const eventId = randomUUID()
        yield* publishShipped(order.id, eventId)
        const shipped = yield* awaitStatus(order.id, "SHIPPED")
        assert.strictEqual(shipped.trackingNumber, "TRK-XYZ")
        yield* publishShipped(order.id, eventId)
        while ((yield* Metric.value(ShippingInbox.duplicates)).count === before) yield* Effect.sleep("10 millis")
        const sql = yield* SqlClient.SqlClient
        const inbox = yield* sql`SELECT 1 FROM inbox WHERE event_id = ${eventId}`
        assert.strictEqual(inbox.length, 1)
      })
    )

    it.effect("an unreadable message, or one about no known order, is parked with its reason", () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const sql = yield* SqlClient.SqlClient
        const marker = randomUUID()
        yield* Effect.orDie(
          broker.publish([{ topic: "order.shipped", key: "x", eventId: marker, value: `{not json ${marker}` }])
        )
        yield* publishShipped(randomUUID(), marker)
        let parked: ReadonlyArray<{ reason: string; value: string }> = []
        while (parked.length < 2) {
          parked = yield* sql<{ reason: string; value: string }>`
            SELECT reason, value FROM dead_letters WHERE value LIKE ${`%${marker}%`} ORDER BY id`
          yield* Effect.sleep("10 millis")
        }
        assert.match(parked[0]!.reason, /unreadable/)
        assert.match(parked[1]!.reason, /no order/)
      })
    )

    it.effect("Agora's own order.shipped is not taken for the shipping service's", () =>
      Effect.gen(function* () {
        const sku = yield* product(1_00, 10)
        const userId = yield* customer(10_00)
        const order = yield* place(userId, [{ sku, quantity: 1 }])
        yield* awaitStatus(order.id, "PAID")
        yield* publishShipped(order.id, randomUUID(), { producer: "agora" })
        yield* Effect.sleep("300 millis")
        assert.strictEqual((yield* awaitStatus(order.id, "PAID")).status, "PAID")
      })
    )
  })
})
