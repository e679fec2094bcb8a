import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { type Broker, InProcessBroker } from "../src/index.ts"
import { BrokerFactory, brokerContract, message, namespace, recorder } from "./BrokerContract.ts"

// One bus per namespace: "a new connection" to the in-process broker is the same bus.
brokerContract(
  "in-process",
  Layer.sync(BrokerFactory, () => {
    const buses = new Map<string, Broker["Service"]>()
    return {
      make: (ns) =>
        Effect.suspend(() => {
          const found = buses.get(ns)
          if (found !== undefined) return Effect.succeed(found)
          return Effect.tap(InProcessBroker.make({ redeliveryDelay: "20 millis" }), (bus) =>
            Effect.sync(() => buses.set(ns, bus))
          )
        }),
      countsAbandonedDeliveries: true
    }
  })
)

describe("in-process broker", () => {
  it.live("does not deliver to a group what was published before its first subscription", () =>
    Effect.gen(function* () {
      const bus = yield* InProcessBroker.make()
      const early = message("order.created", "order-1")
      yield* bus.publish([early])
      const { handle, take, expectNoMore } = yield* recorder
      yield* bus.subscribe({ group: `${namespace()}-late`, topics: ["order.created"] }, handle)
      const late = message("order.created", "order-2")
      yield* bus.publish([late])
      const [received] = yield* take(1)
      assert.strictEqual(received!.value, late.value)
      yield* expectNoMore("200 millis")
    })
  )

  it.live("shares a group's messages between its subscriptions, each message once", () =>
    Effect.gen(function* () {
      const bus = yield* InProcessBroker.make()
      const group = `${namespace()}-shared`
      const { handle, take, expectNoMore } = yield* recorder
      yield* bus.subscribe({ group, topics: ["order.paid"] }, handle)
      yield* bus.subscribe({ group, topics: ["order.paid"] }, handle)
      const sent = Array.from({ length: 20 }, (_, i) => message("order.paid", `order-${i}`))
      yield* bus.publish(sent)
      const received = yield* take(sent.length)
      assert.deepStrictEqual(received.map((m) => m.value).sort(), sent.map((m) => m.value).sort())
      yield* expectNoMore("200 millis")
    })
  )

  it.live("reports its kind and answers a ping", () =>
    Effect.gen(function* () {
      const bus = yield* InProcessBroker.make()
      assert.strictEqual(bus.kind, "in-process")
      yield* bus.ping
    })
  )
})
