import { randomUUID } from "node:crypto"
import { Money, Order, streamId } from "@agora/domain"
import { EventStore, EventStoreError, ExpectedVersion, InMemoryEventStore, Uuid } from "@agora/eventstore"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { OrderStatusFeed } from "../src/index.ts"

const encode = Schema.encodeSync(Order.Order.eventSchema)

/** Appends order events as one write (so the feed's follower gets them in one batch). */
const append = (orderId: string, expected: number, events: ReadonlyArray<Order.OrderEvent>) =>
  Effect.flatMap(EventStore, (store) =>
    store.append(
      streamId(Order.Order, orderId),
      ExpectedVersion.exact(expected),
      events.map((event) => {
        const { _tag, ...data } = encode(event) as { _tag: string }
        return { eventId: randomUUID(), type: event._tag, data }
      })
    )
  ).pipe(Effect.orDie)

const place = Effect.gen(function* () {
  const orderId = Uuid.v7()
  const at = yield* DateTime.now
  yield* append(orderId, 0, [
    new Order.OrderPlaced({
      orderId,
      userId: "user-1",
      lines: [{ sku: "SKU-1", name: "Part", quantity: 1, unitPrice: Money.make(1_00) }],
      total: Money.make(1_00),
      currency: "RUB",
      paymentMethod: "account",
      at
    })
  ])
  return { orderId, at }
})

const toDelivered = (orderId: string, at: DateTime.Utc): ReadonlyArray<Order.OrderEvent> => [
  new Order.OrderReserved({ orderId, at }),
  new Order.OrderPaid({ orderId, paymentId: "pay-1", at }),
  new Order.OrderShipped({ orderId, shipmentId: "ship-1", trackingNumber: "TRK-1", at }),
  new Order.OrderDelivered({ orderId, at })
]

const awaitWatchers = (orderId: string, count: number) =>
  Effect.gen(function* () {
    const feed = yield* OrderStatusFeed.OrderStatusFeed
    while ((yield* feed.watchers(orderId)) !== count) yield* Effect.sleep("5 millis")
  }).pipe(Effect.timeout("5 seconds"))

const summary = (changes: ReadonlyArray<OrderStatusFeed.StatusChange>): ReadonlyArray<ReadonlyArray<unknown>> =>
  changes.map((c) => [c.version, c.status, c.statusReason])

const feedWith = (options: OrderStatusFeed.Options = {}) =>
  OrderStatusFeed.layerWith(options).pipe(Layer.provideMerge(InMemoryEventStore.layer()))

describe("OrderStatusFeed", () => {
  it.live("the current status, then each change in version order, ending at the terminal one", () =>
    Effect.gen(function* () {
      const feed = yield* OrderStatusFeed.OrderStatusFeed
      const { orderId, at } = yield* place
      const watching = yield* Effect.forkChild(Stream.runCollect(feed.watch(orderId)))
      yield* awaitWatchers(orderId, 1)
      // Four changes in one write: one batch of the follower.
      yield* append(orderId, 1, toDelivered(orderId, at))
      const changes = yield* Fiber.join(watching)
      assert.deepStrictEqual(summary(changes), [
        [1, "PENDING", null],
        [2, "RESERVED", null],
        [3, "PAID", null],
        [4, "SHIPPED", null],
        [5, "DELIVERED", null]
      ])
      yield* awaitWatchers(orderId, 0)
    }).pipe(Effect.provide(feedWith()))
  )

  it.live("a cancellation carries its reason; a terminal order yields its status and ends", () =>
    Effect.gen(function* () {
      const feed = yield* OrderStatusFeed.OrderStatusFeed
      const { orderId, at } = yield* place
      const watching = yield* Effect.forkChild(Stream.runCollect(feed.watch(orderId)))
      yield* awaitWatchers(orderId, 1)
      yield* append(orderId, 1, [new Order.OrderCancelled({ orderId, reason: "payment_declined", at })])
      const cancelled = [2, "CANCELLED", "payment_declined"] as const
      assert.deepStrictEqual(summary(yield* Fiber.join(watching)), [[1, "PENDING", null], cancelled])
      assert.deepStrictEqual(summary(yield* Stream.runCollect(feed.watch(orderId))), [cancelled])
    }).pipe(Effect.provide(feedWith()))
  )

  it.live("an unknown or malformed order id is OrderNotFound", () =>
    Effect.gen(function* () {
      const feed = yield* OrderStatusFeed.OrderStatusFeed
      for (const id of [Uuid.v7(), "not-an-id"]) {
        const exit = yield* Effect.exit(Stream.runCollect(feed.watch(id)))
        const error = Exit.findErrorOption(exit)
        assert.isTrue(Option.isSome(error) && error.value._tag === "OrderNotFound")
      }
    }).pipe(Effect.provide(feedWith()))
  )

  it.live("a watcher that falls too far behind is cut off (WatcherLagging) and forgotten, never given a gap", () =>
    Effect.gen(function* () {
      const feed = yield* OrderStatusFeed.OrderStatusFeed
      const { orderId, at } = yield* place
      const gate = yield* Deferred.make<void>()
      const seen: Array<OrderStatusFeed.StatusChange> = []
      // Takes the current status, then stops taking until the gate opens.
      const watching = yield* Effect.forkChild(
        feed.watch(orderId).pipe(
          Stream.runForEach((change) =>
            Effect.andThen(
              Effect.sync(() => seen.push(change)),
              Deferred.await(gate)
            )
          ),
          Effect.exit
        )
      )
      yield* awaitWatchers(orderId, 1)
      while (seen.length === 0) yield* Effect.sleep("5 millis")
      yield* append(orderId, 1, toDelivered(orderId, at))
      yield* awaitWatchers(orderId, 0)
      yield* Deferred.succeed(gate, undefined)
      const exit = yield* Fiber.join(watching)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.findErrorOption(exit)
      assert.isTrue(Option.isSome(error) && error.value._tag === "WatcherLagging")
      // Whatever it got before the cut is a prefix: in order, no gap.
      assert.deepStrictEqual(
        seen.map((c) => c.version),
        seen.map((_, i) => i + 1)
      )
    }).pipe(Effect.provide(feedWith({ capacity: 2 })))
  )

  it.live("a failed subscription to the log is resumed where it stopped: nothing lost, nothing repeated", () => {
    let subscriptions = 0
    // The first subscription hands out two events (the placement, the first change), then fails.
    const flaky = Layer.effect(
      EventStore,
      Effect.map(EventStore, (store) =>
        EventStore.of({
          ...store,
          subscribe: (options) => {
            subscriptions += 1
            if (subscriptions > 1) return store.subscribe(options)
            const failure = new EventStoreError({ operation: "subscribe", cause: "connection lost" })
            return Stream.concat(Stream.take(store.subscribe(options), 2), Stream.fail(failure))
          }
        })
      )
    ).pipe(Layer.provide(InMemoryEventStore.layer()))
    return Effect.gen(function* () {
      const feed = yield* OrderStatusFeed.OrderStatusFeed
      const { orderId, at } = yield* place
      const watching = yield* Effect.forkChild(Stream.runCollect(feed.watch(orderId)))
      yield* awaitWatchers(orderId, 1)
      yield* append(orderId, 1, toDelivered(orderId, at))
      assert.deepStrictEqual(
        (yield* Fiber.join(watching)).map((c) => c.version),
        [1, 2, 3, 4, 5]
      )
      assert.strictEqual(subscriptions, 2)
    }).pipe(Effect.provide(OrderStatusFeed.layer.pipe(Layer.provideMerge(flaky))))
  })

  it.live("many watchers of one order each get every change once, in order", () =>
    Effect.gen(function* () {
      const feed = yield* OrderStatusFeed.OrderStatusFeed
      const { orderId, at } = yield* place
      const watchers = yield* Effect.forEach(Array.from({ length: 20 }), () =>
        Effect.forkChild(Stream.runCollect(feed.watch(orderId)))
      )
      yield* awaitWatchers(orderId, 20)
      const events = toDelivered(orderId, at)
      for (const [i, event] of events.entries()) yield* append(orderId, i + 1, [event])
      for (const watcher of watchers) {
        assert.deepStrictEqual(
          (yield* Fiber.join(watcher)).map((c) => c.version),
          [1, 2, 3, 4, 5]
        )
      }
    }).pipe(Effect.provide(feedWith()))
  )
})
