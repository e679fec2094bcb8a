import { Broker, type IncomingMessage, InProcessBroker } from "@agora/broker"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Deferred, Effect, Layer, Logger, Schema } from "effect"
import { ShippingEvents, ShippingSimulator } from "../src/index.ts"
import { FakeBroker } from "./FakeBroker.ts"

const orderPaid = (overrides: Partial<ShippingEvents.OrderPaid> = {}): ShippingEvents.OrderPaid => ({
  event_id: "0192f0a4-5c1e-7a2b-8c3d-4e5f6a7b8c9d",
  type: "order.paid",
  occurred_at: "2026-11-23T10:00:00.000Z",
  order_id: "0192f0a4-0000-7000-8000-000000000001",
  shipment_id: "0192f0a4-0000-7000-8000-000000000002",
  items: [{ item_id: "line-1", sku: "BRAKE-PAD-01", quantity: 2 }],
  idempotency_key: "order-1/paid",
  ...overrides
})

const decodeShipped = Schema.decodeUnknownSync(Schema.fromJsonString(ShippingEvents.OrderShipped))
const decodeCancelled = Schema.decodeUnknownSync(Schema.fromJsonString(ShippingEvents.OrderCancelled))

/** Runs `body` with the simulator subscribed to a fake broker under `env`. */
const withSimulator = <A, E>(env: Record<string, string>, body: Effect.Effect<A, E, FakeBroker>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const context = yield* Layer.build(
        ShippingSimulator.layer.pipe(
          Layer.provideMerge(FakeBroker.layer),
          Layer.provide(
            ConfigProvider.layer(ConfigProvider.fromUnknown({ SHIPPING_SIMULATOR_DELAY: "5 millis", ...env }))
          )
        )
      )
      return yield* Effect.provideContext(body, context)
    })
  )

describe("ShippingSimulator", () => {
  it.live("answers an order.paid with one order.shipped keyed by the order", () =>
    withSimulator(
      {},
      Effect.gen(function* () {
        const broker = yield* FakeBroker
        assert.deepStrictEqual(broker.subscriptions, [
          { group: "shipping-simulator", topics: ["order.paid"], concurrency: 64 }
        ])
        const order = orderPaid()
        assert.isTrue(yield* broker.deliver("order.paid", JSON.stringify(order), order.order_id))
        assert.strictEqual(broker.published.length, 1)
        const message = broker.published[0]!
        const shipped = decodeShipped(message.value)
        assert.strictEqual(message.topic, "order.shipped")
        assert.strictEqual(message.key, order.order_id)
        assert.strictEqual(message.eventId, shipped.event_id)
        assert.strictEqual(shipped.order_id, order.order_id)
        assert.strictEqual(shipped.shipment_id, order.shipment_id)
        assert.match(shipped.tracking_number, /^TRK-[0-9A-Z]{10}$/)
        assert.match(shipped.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        assert.notStrictEqual(shipped.event_id, order.event_id)
        assert.strictEqual(shipped.shipped_at, shipped.occurred_at)
      })
    )
  )

  it.live("answers a redelivered order.paid with the same event id and tracking number", () =>
    withSimulator(
      {},
      Effect.gen(function* () {
        const broker = yield* FakeBroker
        const value = JSON.stringify(orderPaid())
        yield* broker.deliver("order.paid", value)
        yield* broker.deliver("order.paid", value)
        const [first, second] = broker.published.map((m) => decodeShipped(m.value))
        assert.strictEqual(first!.event_id, second!.event_id)
        assert.strictEqual(first!.tracking_number, second!.tracking_number)
        const other = orderPaid({ event_id: "0192f0a4-5c1e-7a2b-8c3d-000000000000", shipment_id: "another" })
        yield* broker.deliver("order.paid", JSON.stringify(other))
        const third = decodeShipped(broker.published[2]!.value)
        assert.notStrictEqual(third.event_id, first!.event_id)
        assert.notStrictEqual(third.tracking_number, first!.tracking_number)
      })
    )
  )

  it.live("cancels an order holding a SKU from SHIPPING_SIMULATOR_CANCEL_SKUS", () =>
    withSimulator(
      { SHIPPING_SIMULATOR_CANCEL_SKUS: "NOPE-1, OUT-OF-REACH" },
      Effect.gen(function* () {
        const broker = yield* FakeBroker
        const order = orderPaid({
          items: [
            { item_id: "line-1", sku: "BRAKE-PAD-01", quantity: 1 },
            { item_id: "line-2", sku: "OUT-OF-REACH", quantity: 1 }
          ]
        })
        assert.isTrue(yield* broker.deliver("order.paid", JSON.stringify(order)))
        assert.strictEqual(broker.published.length, 1)
        const message = broker.published[0]!
        const cancelled = decodeCancelled(message.value)
        assert.strictEqual(message.topic, "order.cancelled")
        assert.strictEqual(message.key, order.order_id)
        assert.strictEqual(cancelled.reason, "shipping_cancelled")
        assert.strictEqual(cancelled.order_id, order.order_id)
        assert.strictEqual(cancelled.shipment_id, order.shipment_id)
        // Another order, without the SKU, still ships.
        yield* broker.deliver("order.paid", JSON.stringify(orderPaid({ event_id: "e-2", order_id: "o-2" })))
        assert.strictEqual(broker.published[1]!.topic, "order.shipped")
      })
    )
  )

  it.live("cancels every order at SHIPPING_SIMULATOR_CANCEL_RATE=1 and about half at 0.5", () =>
    Effect.gen(function* () {
      yield* withSimulator(
        { SHIPPING_SIMULATOR_CANCEL_RATE: "1" },
        Effect.gen(function* () {
          const broker = yield* FakeBroker
          yield* broker.deliver("order.paid", JSON.stringify(orderPaid()))
          assert.strictEqual(broker.published[0]!.topic, "order.cancelled")
        })
      )
      const orders = Array.from({ length: 400 }, (_, i) => ({ order_id: `order-${i}` }) as ShippingEvents.OrderPaid)
      const cancelled = orders.filter((order) =>
        ShippingSimulator.cancels({ ...orderPaid(), ...order }, { cancelRate: 0.5, cancelSkus: new Set() })
      )
      assert.isTrue(cancelled.length > 150 && cancelled.length < 250, `${cancelled.length} of 400 cancelled`)
    })
  )

  it.live("acknowledges and logs a malformed message, publishing nothing", () =>
    Effect.gen(function* () {
      const warnings: Array<string> = []
      const capture = Logger.make((options) => {
        if (options.logLevel === "Warn") warnings.push(String(options.message))
      })
      yield* withSimulator(
        {},
        Effect.gen(function* () {
          const broker = yield* FakeBroker
          assert.isTrue(yield* broker.deliver("order.paid", "{not json"))
          assert.isTrue(yield* broker.deliver("order.paid", JSON.stringify({ ...orderPaid(), items: "none" })))
          assert.isTrue(yield* broker.deliver("order.paid", JSON.stringify({ ...orderPaid(), type: "order.created" })))
          assert.strictEqual(broker.published.length, 0)
        })
      ).pipe(Effect.provide(Logger.layer([capture])))
      assert.strictEqual(warnings.length, 3)
      assert.include(warnings[0], "not an order.paid")
    })
  )

  it.live("subscribes to nothing when SHIPPING_SIMULATOR=off", () =>
    withSimulator(
      { SHIPPING_SIMULATOR: "off" },
      Effect.gen(function* () {
        const broker = yield* FakeBroker
        assert.deepStrictEqual(broker.subscriptions, [])
        assert.isTrue(yield* broker.deliver("order.paid", JSON.stringify(orderPaid())))
        assert.strictEqual(broker.published.length, 0)
      })
    )
  )

  it.live("refuses to start on a SHIPPING_SIMULATOR value other than on or off", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(withSimulator({ SHIPPING_SIMULATOR: "maybe" }, Effect.void))
      assert.isTrue(exit._tag === "Failure")
    })
  )
})

describe("ShippingSimulator on the in-process broker", () => {
  it.live("answers a published order.paid with an order.shipped another group receives", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const context = yield* Layer.build(
          ShippingSimulator.layer.pipe(
            Layer.provideMerge(InProcessBroker.layer()),
            Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ SHIPPING_SIMULATOR_DELAY: "5 millis" })))
          )
        )
        const broker = Context.get(context, Broker)
        const received = yield* Deferred.make<IncomingMessage>()
        yield* broker.subscribe({ group: "test-saga", topics: ["order.shipped", "order.cancelled"] }, (message) =>
          Deferred.succeed(received, message)
        )
        const order = orderPaid()
        yield* broker.publish([
          { topic: "order.paid", key: order.order_id, eventId: order.event_id, value: JSON.stringify(order) }
        ])
        const message = yield* Deferred.await(received).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(message.topic, "order.shipped")
        assert.strictEqual(message.key, order.order_id)
        assert.strictEqual(decodeShipped(message.value).order_id, order.order_id)
      })
    )
  )
})
