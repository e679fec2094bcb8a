/**
 * The RabbitMQ adapter (amqplib). Every topic is a routing key on one durable
 * topic exchange (`agora`); every consumer group is a durable queue named
 * `<exchange>.<group>` (`queueName`), bound to its topics: two deployments on
 * one virtual host, with their own exchanges, never share a queue. Messages are persistent, carry the event id
 * as `messageId`, the correlation id (the order id) as `correlationId`, the
 * key in the `x-agora-key` header and, when tracing, the publisher's span in a
 * `traceparent` header; `publish`
 * returns only once RabbitMQ confirmed each of them (publisher confirms: the
 * message is then in every bound durable queue). A subscription takes up to
 * `concurrency` messages at a time (prefetch), acknowledges one after its
 * handler succeeded, and after a failure waits, then rejects it back to its
 * place at the head of the queue.
 *
 * Connection loss is survived, not reported: publishing fails with
 * `BrokerError` while RabbitMQ is away (the outbox relay retries), and each
 * subscription reconnects, declares its queue again and goes on. Messages for
 * a topic that no queue is bound to yet are dropped by RabbitMQ, so a group
 * receives what is published after its first `subscribe`.
 */
import type * as Amqp from "amqplib"
import { Config, Deferred, Duration, Effect, Exit, Layer, Queue, Redacted, type Scope, Semaphore } from "effect"
import { Broker, BrokerError, type IncomingMessage, type OutgoingMessage, type SubscribeOptions } from "./Broker.ts"

/** The durable queue of a consumer group on an exchange. */
export const queueName = (exchange: string, group: string): string => `${exchange}.${group}`

import * as AmqpConnection from "./internal/amqpConnection.ts"
import * as Redelivery from "./internal/redelivery.ts"
import * as SubscribeOptionsCheck from "./internal/subscribeOptions.ts"
import * as Supervisor from "./internal/supervisor.ts"
import * as Tracing from "./internal/tracing.ts"

/** The header that carries a message's key (AMQP has no key of its own). */
export const keyHeader = "x-agora-key"

/** The header that carries the publisher's trace context (W3C). */
export const traceparentHeader = "traceparent"

export interface Options extends Redelivery.RedeliveryOptions {
  /** `amqp://user:password@host:port/vhost`. */
  readonly url: string
  /** The topic exchange (default `agora`). */
  readonly exchange?: string
  /** How long opening a connection may take (default 5 seconds). */
  readonly connectTimeout?: Duration.Input
  /** How long `publish` waits for RabbitMQ's confirms before failing (default 10 seconds). */
  readonly publishTimeout?: Duration.Input
  /** The first wait before a lost subscription reconnects (default 500 millis, doubling up to 10 seconds). */
  readonly reconnectDelay?: Duration.Input
}

/** `AMQP_URL` (required) and `AMQP_EXCHANGE` (default `agora`). */
export const config = Config.all({
  url: Config.Redacted("AMQP_URL"),
  exchange: Config.String("AMQP_EXCHANGE").pipe(Config.withDefault("agora"))
})

// Failure counts per message id, so `redeliveries` counts up while this
// process retries (a classic queue only says "redelivered"). Bounded: entries
// of messages that another consumer finished are never cleared otherwise.
const maxRemembered = 10_000
const remember = (failures: Map<string, number>, id: string, count: number) => {
  failures.delete(id)
  failures.set(id, count)
  if (failures.size > maxRemembered) {
    const oldest = failures.keys().next()
    if (oldest.done !== true) failures.delete(oldest.value)
  }
}

const headerText = (value: unknown): string | null =>
  typeof value === "string" ? value : Buffer.isBuffer(value) ? value.toString("utf8") : null

const tryAmqp = <A>(operation: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => new BrokerError({ operation, cause }) })

// An ack or nack on a channel that has closed throws; RabbitMQ then delivers
// the message again anyway, so there is nothing left to do.
const settle = (run: () => void) => Effect.try(run).pipe(Effect.ignore)

/** A broker on RabbitMQ; the connection closes with the scope. */
export const make = (options: Options): Effect.Effect<Broker["Service"], never, Scope.Scope> =>
  Effect.gen(function* () {
    const exchange = options.exchange ?? "agora"
    const publishTimeout = Duration.fromInputUnsafe(options.publishTimeout ?? "10 seconds")
    const reconnectDelay = options.reconnectDelay ?? "500 millis"
    const connection = yield* AmqpConnection.make({
      url: options.url,
      connectTimeout: Duration.fromInputUnsafe(options.connectTimeout ?? "5 seconds"),
      name: `agora (${exchange})`
    })

    const declareExchange = (channel: Amqp.Channel, operation: string) =>
      tryAmqp(operation, () => channel.assertExchange(exchange, "topic", { durable: true }))

    // One confirm channel for all publishing, opened on demand and again after it closed.
    const publisherLock = yield* Semaphore.make(1)
    let publisher: Amqp.ConfirmChannel | undefined
    const publisherChannel = Semaphore.withPermit(
      publisherLock,
      Effect.suspend(() => {
        if (publisher !== undefined) return Effect.succeed(publisher)
        return Effect.gen(function* () {
          const open = yield* connection.get
          const channel = yield* tryAmqp("publish", () => open.createConfirmChannel())
          // Errors close the channel; the callers waiting on it see the failure.
          channel.on("error", () => {})
          channel.on("close", () => {
            if (publisher === channel) publisher = undefined
          })
          yield* declareExchange(channel, "publish")
          publisher = channel
          return channel
        })
      })
    )

    const publish = (messages: ReadonlyArray<OutgoingMessage>): Effect.Effect<void, BrokerError> =>
      messages.length === 0
        ? Effect.void
        : Tracing.publishing("rabbitmq", messages.length, (traceparent) => publishAll(messages, traceparent))

    const publishAll = (messages: ReadonlyArray<OutgoingMessage>, traceparent: string | undefined) =>
      Effect.gen(function* () {
        const channel = yield* publisherChannel
        // A confirm per message rather than `waitForConfirms`: that would
        // also wait for (and fail on) other fibers' messages on the channel.
        yield* tryAmqp("publish", () =>
          Promise.all(
            messages.map(
              (message) =>
                new Promise<void>((resolve, reject) => {
                  channel.publish(
                    exchange,
                    message.topic,
                    Buffer.from(message.value, "utf8"),
                    {
                      persistent: true,
                      messageId: message.eventId,
                      correlationId: message.correlationId ?? message.key,
                      contentType: "application/json",
                      headers:
                        traceparent === undefined
                          ? { [keyHeader]: message.key }
                          : { [keyHeader]: message.key, [traceparentHeader]: traceparent }
                    },
                    (error: unknown) => (error == null ? resolve() : reject(error))
                  )
                })
            )
          )
        )
      }).pipe(
        Effect.timeoutOrElse({
          duration: publishTimeout,
          orElse: () =>
            Effect.fail(
              new BrokerError({
                operation: "publish",
                cause: new Error(`RabbitMQ did not confirm within ${Duration.format(publishTimeout)}`)
              })
            )
        })
      )

    const deliver = <E, R>(
      channel: Amqp.Channel,
      group: string,
      failures: Map<string, number>,
      handle: (message: IncomingMessage) => Effect.Effect<void, E, R>,
      message: Amqp.ConsumeMessage
    ) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const id: unknown = message.properties.messageId
          const messageId = typeof id === "string" ? id : undefined
          const deliveryCount: unknown = message.properties.headers?.["x-delivery-count"]
          const redeliveries = Math.max(
            messageId === undefined ? 0 : (failures.get(messageId) ?? 0),
            message.fields.redelivered ? 1 : 0,
            typeof deliveryCount === "number" ? deliveryCount : 0
          )
          const correlationId: unknown = message.properties.correlationId
          const incoming: IncomingMessage = {
            topic: message.fields.routingKey,
            key: headerText(message.properties.headers?.[keyHeader]),
            value: message.content.toString("utf8"),
            redeliveries,
            correlationId: typeof correlationId === "string" ? correlationId : undefined,
            eventId: messageId,
            traceparent: headerText(message.properties.headers?.[traceparentHeader]) ?? undefined
          }
          // Only the handler and the wait are interruptible: a handled message
          // is always acknowledged, never left for a duplicate delivery.
          if (yield* restore(Redelivery.handleOnce(handle, incoming, group, "rabbitmq"))) {
            if (messageId !== undefined) failures.delete(messageId)
            return yield* settle(() => channel.ack(message))
          }
          if (messageId !== undefined) remember(failures, messageId, redeliveries + 1)
          yield* restore(Effect.sleep(Redelivery.delay(options, redeliveries + 1)))
          yield* settle(() => channel.nack(message, false, true))
        })
      )

    /** One channel's life: declare, consume until the channel closes, then end. */
    const session = <E, R>(
      subscription: SubscribeOptionsCheck.ValidSubscription,
      failures: Map<string, number>,
      handle: (message: IncomingMessage) => Effect.Effect<void, E, R>,
      onReady: Effect.Effect<void>
    ) =>
      Effect.scoped(
        Effect.gen(function* () {
          const { group, topics, concurrency } = subscription
          const open = yield* connection.get
          const channel = yield* Effect.acquireRelease(
            tryAmqp("subscribe", () => open.createChannel()),
            (channel) => Effect.tryPromise(() => channel.close()).pipe(Effect.ignore)
          )
          // Ends the session: with the error RabbitMQ gave when it closed the channel, if any.
          const closed = Deferred.makeUnsafe<void, BrokerError>()
          channel.on("error", (cause: unknown) =>
            Deferred.doneUnsafe(closed, Exit.fail(new BrokerError({ operation: "subscribe", cause })))
          )
          channel.on("close", () => Deferred.doneUnsafe(closed, Exit.void))
          yield* tryAmqp("subscribe", () => channel.prefetch(concurrency))
          yield* declareExchange(channel, "subscribe")
          const queue = queueName(exchange, group)
          yield* tryAmqp("subscribe", () => channel.assertQueue(queue, { durable: true }))
          for (const topic of topics) yield* tryAmqp("subscribe", () => channel.bindQueue(queue, exchange, topic))
          const inbox = yield* Queue.unbounded<Amqp.ConsumeMessage>()
          yield* tryAmqp("subscribe", () =>
            channel.consume(queue, (message) => {
              // null: RabbitMQ cancelled the consumer (the queue was deleted); start over.
              if (message === null) Deferred.doneUnsafe(closed, Exit.void)
              else Queue.offerUnsafe(inbox, message)
            })
          )
          yield* onReady
          const worker = Effect.forever(
            Effect.flatMap(Queue.take(inbox), (message) => deliver(channel, group, failures, handle, message))
          )
          yield* Effect.raceFirst(
            Deferred.await(closed),
            Effect.all(
              Array.from({ length: concurrency }, () => worker),
              { concurrency: "unbounded", discard: true }
            )
          )
        })
      )

    const subscribe = <E, R>(
      subscribeOptions: SubscribeOptions,
      handle: (message: IncomingMessage) => Effect.Effect<void, E, R>
    ) =>
      Effect.gen(function* () {
        const subscription = yield* SubscribeOptionsCheck.validate(subscribeOptions)
        const failures = new Map<string, number>()
        yield* Supervisor.run({
          group: subscription.group,
          lost: "the RabbitMQ channel closed",
          reconnectDelay,
          maxReconnectDelay: "10 seconds",
          session: (onReady) => session(subscription, failures, handle, onReady)
        })
      })

    const ping = Effect.flatMap(publisherChannel, (channel) =>
      tryAmqp("ping", () => channel.checkExchange(exchange))
    ).pipe(Effect.asVoid)

    // Connecting in the background only to say early when RabbitMQ is down,
    // which is not fatal: publishing fails until it is back, and the outbox waits.
    yield* Effect.forkScoped(
      ping.pipe(
        Effect.catch((error) =>
          Effect.logWarning(
            "Broker: RabbitMQ is unreachable at start; publishing fails until it is back",
            error.message
          )
        )
      )
    )

    return Broker.of({ kind: "rabbitmq", publish, subscribe, ping })
  })

/** A RabbitMQ broker with explicit options. */
export const layer = (options: Options): Layer.Layer<Broker> => Layer.effect(Broker, make(options))

/** A RabbitMQ broker from `AMQP_URL` and `AMQP_EXCHANGE`. */
export const layerConfig: Layer.Layer<Broker, Config.ConfigError> = Layer.effect(
  Broker,
  Effect.gen(function* () {
    const { url, exchange } = yield* config
    return yield* make({ url: Redacted.value(url), exchange })
  })
)
