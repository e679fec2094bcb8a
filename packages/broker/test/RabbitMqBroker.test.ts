import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import * as Amqp from "amqplib"
import { Deferred, Effect, Layer, Schedule } from "effect"
import { type Broker, RabbitMqBroker } from "../src/index.ts"
import { BrokerFactory, brokerContract, message, namespace, recorder } from "./BrokerContract.ts"
import * as TcpProxy from "./TcpProxy.ts"

const url = process.env.AMQP_URL
const skipped = url === undefined
if (skipped)
  console.warn(
    "RabbitMqBroker: skipped because AMQP_URL is not set (CI sets it; locally AMQP_URL=amqp://guest:guest@127.0.0.1:5672)"
  )

const testOptions = { redeliveryDelay: "20 millis", reconnectDelay: "100 millis", publishTimeout: "3 seconds" } as const

/** A plain amqplib channel, to look at what the adapter left in RabbitMQ and to clean up after the tests. */
const rawChannel = Effect.gen(function* () {
  const connection = yield* Effect.acquireRelease(
    Effect.promise(() => Amqp.connect(url!)),
    (connection) => Effect.tryPromise(() => connection.close()).pipe(Effect.ignore)
  )
  const channel = yield* Effect.promise(() => connection.createChannel())
  channel.on("error", () => {})
  return { connection, channel }
})

/**
 * Brokers on the test's own exchange; every queue and exchange the tests
 * declared is deleted when the suite ends, so RabbitMQ keeps none of them.
 */
const factory = Layer.effect(
  BrokerFactory,
  Effect.gen(function* () {
    const { channel } = yield* rawChannel
    const exchanges = new Set<string>()
    const queues = new Set<string>()
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        for (const queue of queues) await channel.deleteQueue(queue).catch(() => undefined)
        for (const exchange of exchanges) await channel.deleteExchange(exchange).catch(() => undefined)
      })
    )
    return {
      make: (ns: string) =>
        Effect.map(RabbitMqBroker.make({ url: url!, exchange: ns, ...testOptions }), (broker): Broker["Service"] => {
          exchanges.add(ns)
          return {
            ...broker,
            subscribe: (options, handle) => {
              queues.add(RabbitMqBroker.queueName(ns, options.group))
              return broker.subscribe(options, handle)
            }
          }
        }),
      countsAbandonedDeliveries: true
    }
  })
)

describe.skipIf(skipped)("RabbitMQ", () => {
  brokerContract("RabbitMQ", factory)

  describe("RabbitMQ adapter", () => {
    it.live("stores persistent messages with the event id and the key in a durable queue", () =>
      Effect.gen(function* () {
        const ns = namespace()
        const group = `${ns}-inspected`
        const { connection, channel } = yield* rawChannel
        yield* Effect.addFinalizer(() =>
          Effect.promise(async () => {
            const cleanup = await connection.createChannel()
            await cleanup.deleteQueue(RabbitMqBroker.queueName(ns, group))
            await cleanup.deleteExchange(ns)
          })
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            const broker = yield* RabbitMqBroker.make({ url: url!, exchange: ns, ...testOptions })
            yield* Effect.scoped(broker.subscribe({ group, topics: ["order.paid"] }, () => Effect.void))
            const sent = message("order.paid", "order-42")
            yield* broker.publish([sent])
            const got = yield* Effect.promise(() => channel.get(RabbitMqBroker.queueName(ns, group), { noAck: true }))
            assert.isTrue(got !== false)
            if (got === false) return
            assert.strictEqual(got.content.toString("utf8"), sent.value)
            assert.strictEqual(got.fields.routingKey, "order.paid")
            assert.strictEqual(got.fields.exchange, ns)
            assert.strictEqual(got.properties.messageId, sent.eventId)
            assert.strictEqual(got.properties.deliveryMode, 2)
            assert.strictEqual(got.properties.headers?.[RabbitMqBroker.keyHeader], "order-42")
          })
        )
        // Declaring the queue as non-durable is refused: it exists, durable.
        const refused = yield* Effect.tryPromise(() =>
          channel.assertQueue(RabbitMqBroker.queueName(ns, group), { durable: false })
        ).pipe(Effect.flip)
        assert.include(String(refused.cause), "PRECONDITION_FAILED")
      })
    )

    it.live("fails publish while RabbitMQ is unreachable, and the subscription carries on after it is back", () =>
      Effect.gen(function* () {
        const target = new URL(url!)
        const proxy = yield* TcpProxy.make({ host: target.hostname, port: Number(target.port || 5672) })
        const proxied = new URL(url!)
        proxied.hostname = "127.0.0.1"
        proxied.port = String(proxy.port)
        const ns = namespace()
        const group = `${ns}-resilient`
        const { channel } = yield* rawChannel
        yield* Effect.addFinalizer(() =>
          Effect.promise(async () => {
            await channel.deleteQueue(RabbitMqBroker.queueName(ns, group)).catch(() => undefined)
            await channel.deleteExchange(ns).catch(() => undefined)
          })
        )
        const broker = yield* RabbitMqBroker.make({ url: proxied.href, exchange: ns, ...testOptions })
        const { handle, take } = yield* recorder
        yield* broker.subscribe({ group, topics: ["order.shipped"] }, handle)
        const first = message("order.shipped", "order-1")
        yield* broker.publish([first])
        assert.strictEqual((yield* take(1))[0]!.value, first.value)

        yield* proxy.cut
        yield* Effect.sleep("100 millis")
        const error = yield* broker.publish([message("order.shipped", "order-2")]).pipe(Effect.flip)
        assert.strictEqual(error._tag, "BrokerError")
        assert.strictEqual((yield* broker.ping.pipe(Effect.flip))._tag, "BrokerError")

        yield* proxy.restore
        // As the outbox relay does: publish again until RabbitMQ takes it.
        const afterOutage = message("order.shipped", "order-3")
        yield* broker.publish([afterOutage]).pipe(Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 50 }))
        // The subscription reconnected by itself and gets what was published since.
        assert.strictEqual((yield* take(1))[0]!.value, afterOutage.value)
        yield* broker.ping
      })
    )

    it.live("delivers again, after reconnecting, a message that was being handled when the connection dropped", () =>
      Effect.gen(function* () {
        const target = new URL(url!)
        const proxy = yield* TcpProxy.make({ host: target.hostname, port: Number(target.port || 5672) })
        const proxied = new URL(url!)
        proxied.hostname = "127.0.0.1"
        proxied.port = String(proxy.port)
        const ns = namespace()
        const group = `${ns}-dropped`
        const { channel } = yield* rawChannel
        yield* Effect.addFinalizer(() =>
          Effect.promise(async () => {
            await channel.deleteQueue(RabbitMqBroker.queueName(ns, group)).catch(() => undefined)
            await channel.deleteExchange(ns).catch(() => undefined)
          })
        )
        const broker = yield* RabbitMqBroker.make({ url: proxied.href, exchange: ns, ...testOptions })
        const started = yield* Deferred.make<void>()
        const { handle, take } = yield* recorder
        let deliveries = 0
        yield* broker.subscribe({ group, topics: ["order.paid"] }, (incoming) =>
          ++deliveries === 1 ? Effect.andThen(Deferred.succeed(started, undefined), Effect.never) : handle(incoming)
        )
        const sent = message("order.paid", "order-5")
        yield* broker.publish([sent])
        yield* Deferred.await(started)
        yield* proxy.cut
        yield* proxy.restore
        const [again] = yield* take(1)
        assert.strictEqual(again!.value, sent.value)
        assert.isAbove(again!.redeliveries, 0)
      })
    )
  })
})

describe("RabbitMQ adapter without a reachable RabbitMQ", () => {
  it.live("starts while RabbitMQ is unreachable; publish, ping and a first subscribe fail with BrokerError", () =>
    Effect.gen(function* () {
      const broker = yield* RabbitMqBroker.make({ url: "amqp://guest:guest@127.0.0.1:1", exchange: randomUUID() })
      assert.strictEqual(broker.kind, "rabbitmq")
      const failures = [
        yield* broker.publish([message("order.created", "order-1")]).pipe(Effect.flip),
        yield* broker.ping.pipe(Effect.flip),
        yield* Effect.scoped(broker.subscribe({ group: randomUUID(), topics: ["order.paid"] }, () => Effect.void)).pipe(
          Effect.flip
        )
      ]
      assert.deepStrictEqual(
        failures.map((e) => e._tag),
        ["BrokerError", "BrokerError", "BrokerError"]
      )
    })
  )
})
