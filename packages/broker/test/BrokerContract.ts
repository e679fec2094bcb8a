/**
 * The broker contract: one suite, run against every adapter. Each test works
 * in a namespace of its own (a fresh exchange, topic prefix or bus) with
 * group names of its own, so tests and test files run side by side on one
 * RabbitMQ or Kafka. Time is real: brokers are.
 */
import { randomUUID } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Context, Deferred, type Duration, Effect, Exit, type Layer, Option, Queue, Scope, Tracer } from "effect"
import type { Broker, BrokerError, IncomingMessage, OutgoingMessage, Topic } from "../src/index.ts"

/** Makes brokers of the adapter under test. */
export class BrokerFactory extends Context.Service<
  BrokerFactory,
  {
    /**
     * A broker in `namespace`. The same namespace again reaches the same
     * groups and messages, through a new connection where the adapter has one.
     */
    readonly make: (namespace: string) => Effect.Effect<Broker["Service"], BrokerError, Scope.Scope>
    /** Whether a delivery left unacknowledged by a closed subscription counts in `redeliveries` (not on Kafka). */
    readonly countsAbandonedDeliveries: boolean
  }
>()("test/BrokerFactory") {}

type Service = Broker["Service"]

export const namespace = () => `contract-${randomUUID()}`

export const message = (topic: Topic, key: string, value: unknown = { n: 1 }): OutgoingMessage => {
  const eventId = randomUUID()
  return {
    topic,
    key,
    eventId,
    value: typeof value === "string" ? value : JSON.stringify({ event_id: eventId, value })
  }
}

/** A handler that records every delivery, and a way to wait for them. */
export const recorder = Effect.gen(function* () {
  const received = yield* Queue.unbounded<IncomingMessage>()
  return {
    handle: (incoming: IncomingMessage) => Queue.offer(received, incoming).pipe(Effect.asVoid),
    /** The next `n` deliveries; fails the test after 20 seconds. */
    take: (n: number) =>
      Effect.forEach(Array.from({ length: n }), () => Queue.take(received)).pipe(Effect.timeout("20 seconds")),
    /** Asserts that nothing more arrives for a while. */
    expectNoMore: (wait: Duration.Input = "1 second") =>
      Effect.gen(function* () {
        yield* Effect.sleep(wait)
        assert.strictEqual(yield* Queue.size(received), 0, "no further delivery")
      })
  }
})

/** A subscription that lives until `Scope.close`, to test what closing it does. */
const subscribeClosable = <E>(
  broker: Service,
  options: Parameters<Service["subscribe"]>[0],
  handle: (message: IncomingMessage) => Effect.Effect<void, E>
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    yield* broker.subscribe(options, handle).pipe(Scope.provide(scope))
    return scope
  })

/** Effect's in-memory tracer under another name: the adapters trace only when a tracer of that kind is installed. */
const recordingTracer = Tracer.make({ span: (options) => Tracer.nativeTracer.span(options) })

const payloadOf = (incoming: IncomingMessage) => JSON.parse(incoming.value) as { event_id: string; value: unknown }

export const brokerContract = <E>(adapter: string, factory: Layer.Layer<BrokerFactory, E>) =>
  layer(factory, { excludeTestServices: true, timeout: "120 seconds" })(`Broker contract: ${adapter}`, (it) => {
    const broker = (ns: string) => BrokerFactory.use((f) => f.make(ns))

    it.effect("delivers a published message with its topic, key, value, event id and correlation id intact", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const bus = yield* broker(ns)
        const { handle, take, expectNoMore } = yield* recorder
        yield* bus.subscribe({ group: `${ns}-shipping`, topics: ["order.paid", "order.cancelled"] }, handle)
        const paid = {
          ...message("order.paid", "order-1", { items: [{ sku: "ÆØÅ-☃", quantity: 2 }] }),
          correlationId: "c-1"
        }
        // Without a correlation id of its own, a message's key is its correlation id.
        const cancelled = message("order.cancelled", "order-2", { reason: "fraud" })
        yield* bus.publish([paid, cancelled])
        // Two topics: Kafka does not order one against the other.
        const received = (yield* take(2)).toSorted((a, b) => a.key!.localeCompare(b.key!))
        assert.deepStrictEqual(
          received.map(({ topic, key, value, redeliveries, eventId, correlationId }) => ({
            topic,
            key,
            value,
            redeliveries,
            eventId,
            correlationId
          })),
          [
            {
              topic: "order.paid",
              key: "order-1",
              value: paid.value,
              redeliveries: 0,
              eventId: paid.eventId,
              correlationId: "c-1"
            },
            {
              topic: "order.cancelled",
              key: "order-2",
              value: cancelled.value,
              redeliveries: 0,
              eventId: cancelled.eventId,
              correlationId: "order-2"
            }
          ]
        )
        // Not tracing: no trace context travels.
        assert.deepStrictEqual(
          received.map((m) => m.traceparent),
          [undefined, undefined]
        )
        yield* expectNoMore()
      })
    )

    it.effect("when tracing, the handler runs in a consumer span that continues the publisher's trace", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const bus = yield* broker(ns)
        const seen = yield* Deferred.make<{ readonly traceId: string; readonly parent: string | undefined }>()
        yield* bus.subscribe({ group: `${ns}-traced`, topics: ["order.paid"] }, () =>
          Effect.flatMap(Effect.currentSpan, (span) =>
            Deferred.succeed(seen, {
              traceId: span.traceId,
              parent: Option.getOrUndefined(Option.map(span.parent, (p) => p.spanId))
            })
          )
        )
        const publisher = yield* Effect.withSpan(
          Effect.andThen(bus.publish([message("order.paid", "order-t")]), Effect.currentSpan),
          "test.publisher"
        )
        const consumer = yield* Deferred.await(seen).pipe(Effect.timeout("20 seconds"))
        assert.strictEqual(consumer.traceId, publisher.traceId)
        // Below the adapter's publish span, itself below the publisher's.
        assert.isDefined(consumer.parent)
        assert.notStrictEqual(consumer.parent, publisher.spanId)
      }).pipe(Effect.provideService(Tracer.Tracer, recordingTracer))
    )

    it.effect("delivers only the topics a group subscribed to", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const bus = yield* broker(ns)
        const { handle, take, expectNoMore } = yield* recorder
        yield* bus.subscribe({ group: `${ns}-payments`, topics: ["payment.failed"] }, handle)
        yield* bus.publish([message("payment.succeeded", "o-1"), message("payment.failed", "o-1")])
        const [only] = yield* take(1)
        assert.strictEqual(only!.topic, "payment.failed")
        yield* expectNoMore()
      })
    )

    it.effect("delivers every message once to each of two groups", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const bus = yield* broker(ns)
        const first = yield* recorder
        const second = yield* recorder
        yield* bus.subscribe({ group: `${ns}-first`, topics: ["order.created"] }, first.handle)
        yield* bus.subscribe({ group: `${ns}-second`, topics: ["order.created"] }, second.handle)
        const sent = Array.from({ length: 5 }, (_, i) => message("order.created", `order-${i}`))
        yield* bus.publish(sent)
        for (const group of [first, second]) {
          const received = yield* group.take(5)
          assert.deepStrictEqual(received.map((m) => m.value).sort(), sent.map((m) => m.value).sort())
        }
        yield* Effect.all([first.expectNoMore(), second.expectNoMore()], { concurrency: 2 })
      })
    )

    it.effect("delivers the messages of one key in publish order", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const bus = yield* broker(ns)
        const { handle, take } = yield* recorder
        yield* bus.subscribe({ group: `${ns}-ordered`, topics: ["order.shipped"] }, handle)
        const keys = ["order-a", "order-b", "order-c"]
        const sent = Array.from({ length: 30 }, (_, i) => message("order.shipped", keys[i % 3]!, { seq: i }))
        // Several publishes, each with several messages per key.
        for (let i = 0; i < sent.length; i += 10) yield* bus.publish(sent.slice(i, i + 10))
        const received = yield* take(sent.length)
        for (const key of keys) {
          assert.deepStrictEqual(
            received.filter((m) => m.key === key).map((m) => payloadOf(m).value),
            sent.filter((m) => m.key === key).map((m) => JSON.parse(m.value).value)
          )
        }
      })
    )

    it.effect("delivers a failed message again, with redeliveries counted, and loses nothing after it", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const bus = yield* broker(ns)
        const deliveries: Array<{ n: number; redeliveries: number }> = []
        const handled: Array<number> = []
        const done = yield* Deferred.make<void>()
        const sent = Array.from({ length: 5 }, (_, n) => message("payment.succeeded", "order-x", n))
        yield* bus.subscribe({ group: `${ns}-flaky`, topics: ["payment.succeeded"] }, (incoming) =>
          Effect.gen(function* () {
            const n = payloadOf(incoming).value as number
            deliveries.push({ n, redeliveries: incoming.redeliveries })
            const attempt = deliveries.filter((d) => d.n === n).length
            // The second message fails twice: once with an error, once with a defect.
            if (n === 1 && attempt === 1) return yield* Effect.fail("declined for now")
            if (n === 1 && attempt === 2) return yield* Effect.die(new Error("handler crashed"))
            handled.push(n)
            if (handled.length === sent.length) yield* Deferred.succeed(done, undefined)
          })
        )
        yield* bus.publish(sent)
        yield* Deferred.await(done).pipe(Effect.timeout("30 seconds"))
        assert.deepStrictEqual(handled, [0, 1, 2, 3, 4])
        assert.deepStrictEqual(
          deliveries.filter((d) => d.n === 1).map((d) => d.redeliveries),
          [0, 1, 2]
        )
      })
    )

    it.effect("delivers a value that is not JSON as it is", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const bus = yield* broker(ns)
        const { handle, take } = yield* recorder
        yield* bus.subscribe({ group: `${ns}-lenient`, topics: ["order.created"] }, handle)
        const malformed = message("order.created", "order-9", '{"event_id": "oops", truncated')
        yield* bus.publish([malformed])
        const [received] = yield* take(1)
        assert.strictEqual(received!.value, malformed.value)
      })
    )

    it.effect("has the message once publish returns: a new connection receives it", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const group = `${ns}-durable`
        // The group exists (RabbitMQ: its durable queue) but nobody is subscribed when the message goes out.
        yield* Effect.scoped(
          Effect.flatMap(broker(ns), (bus) => bus.subscribe({ group, topics: ["order.paid"] }, () => Effect.void))
        )
        const sent = message("order.paid", "order-7")
        yield* Effect.scoped(Effect.flatMap(broker(ns), (bus) => bus.publish([sent])))
        const { handle, take } = yield* recorder
        yield* (yield* broker(ns)).subscribe({ group, topics: ["order.paid"] }, handle)
        const [received] = yield* take(1)
        assert.strictEqual(received!.value, sent.value)
      })
    )

    it.effect("stops delivering when the subscription's scope closes, and keeps the messages for the group", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const group = `${ns}-closing`
        const bus = yield* broker(ns)
        const before = yield* recorder
        const scope = yield* subscribeClosable(bus, { group, topics: ["order.created"] }, before.handle)
        yield* bus.publish([message("order.created", "order-1")])
        yield* before.take(1)
        yield* Scope.close(scope, Exit.void)
        const later = message("order.created", "order-2")
        yield* bus.publish([later])
        yield* before.expectNoMore()
        const after = yield* recorder
        yield* bus.subscribe({ group, topics: ["order.created"] }, after.handle)
        const [received] = yield* after.take(1)
        assert.strictEqual(received!.value, later.value)
      })
    )

    it.effect("delivers again a message whose subscription closed while handling it", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const group = `${ns}-crashing`
        const bus = yield* broker(ns)
        const started = yield* Deferred.make<void>()
        const scope = yield* subscribeClosable(bus, { group, topics: ["order.paid"] }, () =>
          Effect.andThen(Deferred.succeed(started, undefined), Effect.never)
        )
        const sent = message("order.paid", "order-3")
        yield* bus.publish([sent])
        yield* Deferred.await(started).pipe(Effect.timeout("20 seconds"))
        yield* Scope.close(scope, Exit.void)
        const { handle, take } = yield* recorder
        yield* bus.subscribe({ group, topics: ["order.paid"] }, handle)
        const [received] = yield* take(1)
        assert.strictEqual(received!.value, sent.value)
        if (yield* BrokerFactory.use((f) => Effect.succeed(f.countsAbandonedDeliveries)))
          assert.isAbove(received!.redeliveries, 0)
      })
    )

    it.effect("handles messages of different keys at once above concurrency 1", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const bus = yield* broker(ns)
        let inFlight = 0
        let most = 0
        const done = yield* Deferred.make<void>()
        let handled = 0
        const sent = Array.from({ length: 12 }, (_, i) => message("order.created", `order-${i}`))
        yield* bus.subscribe({ group: `${ns}-parallel`, topics: ["order.created"], concurrency: 3 }, () =>
          Effect.gen(function* () {
            inFlight++
            most = Math.max(most, inFlight)
            yield* Effect.sleep("100 millis")
            inFlight--
            if (++handled === sent.length) yield* Deferred.succeed(done, undefined)
          })
        )
        yield* bus.publish(sent)
        yield* Deferred.await(done).pipe(Effect.timeout("20 seconds"))
        assert.isAtLeast(most, 2)
        assert.isAtMost(most, 3)
      })
    )

    it.effect("refuses a subscription without topics or with a concurrency below 1", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const bus = yield* broker(ns)
        const noTopics = yield* bus.subscribe({ group: `${ns}-x`, topics: [] }, () => Effect.void).pipe(Effect.flip)
        assert.strictEqual(noTopics._tag, "BrokerError")
        const noWorkers = yield* bus
          .subscribe({ group: `${ns}-x`, topics: ["order.paid"], concurrency: 0 }, () => Effect.void)
          .pipe(Effect.flip)
        assert.include(noWorkers.message, "concurrency")
      })
    )

    it.effect("publishes nothing without complaint, and answers a ping", () =>
      Effect.gen(function* () {
        const bus = yield* broker(namespace())
        yield* bus.publish([])
        yield* bus.ping
      })
    )
  })
