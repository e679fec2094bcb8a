/**
 * The Kafka adapter (kafkajs). Each SPEC topic is a Kafka topic (created on
 * start when missing), the key is the message key, so one order's messages
 * share a partition and keep their order within a topic, and each consumer
 * group is a Kafka consumer group. The producer is idempotent and waits for
 * every in-sync replica (acks = -1) before `publish` returns. Beside the body,
 * a message carries headers: its event id, its correlation id (the order id)
 * and, when tracing, the publisher's span as `traceparent`.
 *
 * A subscription handles up to `concurrency` partitions at once, one message
 * at a time in each. An offset is committed only after its handler
 * succeeded; a failing handler is retried in place with a growing wait (the
 * partition waits too, so nothing overtakes it), because letting kafkajs
 * see the failure could skip the message. A new group reads its topics from
 * the beginning (`fromBeginning`): Kafka keeps messages, so a group that
 * joins late still gets what was published before.
 */
import { Config, type Context, Deferred, Duration, Effect, Exit, FiberSet, Layer, type Scope, Semaphore } from "effect"
import { type EachMessagePayload, Kafka, type LogEntry, logLevel, type Message, Partitioners } from "kafkajs"
import {
  Broker,
  BrokerError,
  type IncomingMessage,
  type OutgoingMessage,
  type SubscribeOptions,
  topics
} from "./Broker.ts"
import * as Redelivery from "./internal/redelivery.ts"
import * as SubscribeOptionsCheck from "./internal/subscribeOptions.ts"
import * as Supervisor from "./internal/supervisor.ts"
import * as Tracing from "./internal/tracing.ts"

/** The header that carries the event id (consumers read it from the value; it is there for tools). */
export const eventIdHeader = "event-id"

/** The header that carries the correlation id (the order id) beside the body. */
export const correlationIdHeader = "correlation-id"

/** The header that carries the publisher's trace context (W3C), when it was tracing. */
export const traceparentHeader = "traceparent"

export interface Options extends Redelivery.RedeliveryOptions {
  /** `host:port` of one or more brokers. */
  readonly brokers: ReadonlyArray<string>
  /** The client id Kafka logs and quotas see (default `agora`). */
  readonly clientId?: string
  /** Put before every topic name (default none): several environments, or test runs, on one cluster. */
  readonly topicPrefix?: string
  /** Partitions of the topics created here (default: the broker's `num.partitions`). */
  readonly numPartitions?: number
  /** Replication factor of the topics created here (default: the broker's). */
  readonly replicationFactor?: number
  /** Where a group with no committed offset starts: the topic's beginning (default) or its end. */
  readonly fromBeginning?: boolean
  /** How long connecting to a broker may take (default 3 seconds). */
  readonly connectionTimeout?: Duration.Input
  /** How long `publish` may take before failing (default 30 seconds). */
  readonly publishTimeout?: Duration.Input
  /** How long a subscription may take to join its group (default 60 seconds). */
  readonly joinTimeout?: Duration.Input
  /** The first wait before a consumer that kafkajs gave up on is made again (default 1 second, up to 30). */
  readonly reconnectDelay?: Duration.Input
}

/** `KAFKA_BROKERS` (comma-separated `host:port`, required) and `KAFKA_CLIENT_ID` (default `agora`). */
export const config = Config.all({
  brokers: Config.String("KAFKA_BROKERS").pipe(
    Config.map((value) =>
      value
        .split(",")
        .map((broker) => broker.trim())
        .filter((broker) => broker !== "")
    )
  ),
  clientId: Config.String("KAFKA_CLIENT_ID").pipe(Config.withDefault("agora"))
})

/** A header's text (kafkajs gives a Buffer, a string, or several of them). */
const headerText = (value: unknown): string | undefined => {
  const first = Array.isArray(value) ? value[0] : value
  return typeof first === "string" ? first : Buffer.isBuffer(first) ? first.toString("utf8") : undefined
}

const tryKafka = <A>(operation: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => new BrokerError({ operation, cause }) })

/** kafkajs logs through Effect's logger, so they reach the same place with the same format. */
const logCreator = (services: Context.Context<never>) => () => (entry: LogEntry) => {
  const { message, timestamp: _timestamp, logger: _logger, ...details } = entry.log
  // Said once per producer: retries are limited on purpose (see `make`); exactly-once is not a goal.
  if (message.startsWith("Limiting retries for the idempotent producer")) return
  // One level down: kafkajs reports every failed connection attempt as an
  // error, while what callers must act on reaches them as a BrokerError.
  const log =
    entry.level === logLevel.ERROR
      ? Effect.logWarning
      : entry.level === logLevel.WARN
        ? Effect.logInfo
        : Effect.logDebug
  Effect.runForkWith(services)(log(`kafkajs ${entry.namespace}: ${message}`).pipe(Effect.annotateLogs(details)))
}

const timeoutError = (operation: string, what: string, after: Duration.Duration) =>
  new BrokerError({ operation, cause: new Error(`${what} within ${Duration.format(after)}`) })

/** A broker on Kafka; the clients disconnect with the scope. */
export const make = (options: Options): Effect.Effect<Broker["Service"], never, Scope.Scope> =>
  Effect.gen(function* () {
    const prefix = options.topicPrefix ?? ""
    const publishTimeout = Duration.fromInputUnsafe(options.publishTimeout ?? "30 seconds")
    const joinTimeout = Duration.fromInputUnsafe(options.joinTimeout ?? "60 seconds")
    const reconnectDelay = options.reconnectDelay ?? "1 second"
    const services = yield* Effect.context<never>()
    const kafka = new Kafka({
      clientId: options.clientId ?? "agora",
      brokers: [...options.brokers],
      connectionTimeout: Duration.toMillis(Duration.fromInputUnsafe(options.connectionTimeout ?? "3 seconds")),
      logLevel: logLevel.WARN,
      logCreator: logCreator(services),
      // Connecting gives up after a few seconds: the callers (the outbox relay,
      // the subscription loop below) retry on their own schedule.
      retry: { retries: 3 }
    })
    // An idempotent producer retries forever by default, which would keep a
    // publish pending through an outage; a bounded retry fails it instead, and
    // the outbox relay publishes again (consumers dedupe by event id).
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 5 }
    })
    const admin = kafka.admin({ retry: { retries: 2 } })
    yield* Effect.addFinalizer(() => Effect.tryPromise(() => admin.disconnect()).pipe(Effect.ignore))
    yield* Effect.addFinalizer(() => Effect.tryPromise(() => producer.disconnect()).pipe(Effect.ignore))

    const topicName = (topic: string) => prefix + topic
    const topicOf = (name: string) => (prefix !== "" && name.startsWith(prefix) ? name.slice(prefix.length) : name)

    // Topics are created once per process; until that worked, every publish and subscribe tries again.
    const topicsLock = yield* Semaphore.make(1)
    let topicsReady = false
    const ensureTopics = (operation: string) =>
      Semaphore.withPermit(
        topicsLock,
        Effect.suspend(() =>
          topicsReady
            ? Effect.void
            : Effect.gen(function* () {
                yield* tryKafka(operation, () => admin.connect())
                const existing = new Set(yield* tryKafka(operation, () => admin.listTopics()))
                const missing = topics.map(topicName).filter((name) => !existing.has(name))
                if (missing.length > 0) {
                  yield* tryKafka(operation, () =>
                    admin.createTopics({
                      waitForLeaders: true,
                      topics: missing.map((topic) => ({
                        topic,
                        ...(options.numPartitions === undefined ? {} : { numPartitions: options.numPartitions }),
                        ...(options.replicationFactor === undefined
                          ? {}
                          : { replicationFactor: options.replicationFactor })
                      }))
                    })
                  )
                }
                topicsReady = true
              })
        )
      )

    const producerLock = yield* Semaphore.make(1)
    let producerConnected = false
    producer.on(producer.events.DISCONNECT, () => {
      producerConnected = false
    })
    const connectProducer = Semaphore.withPermit(
      producerLock,
      Effect.suspend(() =>
        producerConnected
          ? Effect.void
          : tryKafka("publish", () => producer.connect()).pipe(
              Effect.tap(() =>
                Effect.sync(() => {
                  producerConnected = true
                })
              )
            )
      )
    )

    const publish = (messages: ReadonlyArray<OutgoingMessage>): Effect.Effect<void, BrokerError> =>
      messages.length === 0
        ? Effect.void
        : Tracing.publishing("kafka", messages.length, (traceparent) => publishAll(messages, traceparent))

    const publishAll = (messages: ReadonlyArray<OutgoingMessage>, traceparent: string | undefined) =>
      Effect.gen(function* () {
        yield* ensureTopics("publish")
        yield* connectProducer
        // One entry per topic, messages in publish order: same key, same partition, same order.
        const byTopic = new Map<string, Array<Message>>()
        for (const message of messages) {
          const name = topicName(message.topic)
          const batch = byTopic.get(name) ?? []
          const headers: Record<string, string> = {
            [eventIdHeader]: message.eventId,
            [correlationIdHeader]: message.correlationId ?? message.key
          }
          if (traceparent !== undefined) headers[traceparentHeader] = traceparent
          batch.push({ key: message.key, value: message.value, headers })
          byTopic.set(name, batch)
        }
        yield* tryKafka("publish", () =>
          producer.sendBatch({
            acks: -1,
            topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages }))
          })
        )
      }).pipe(
        Effect.timeoutOrElse({
          duration: publishTimeout,
          orElse: () => Effect.fail(timeoutError("publish", "Kafka did not acknowledge", publishTimeout))
        })
      )

    const heartbeat = (payload: EachMessagePayload) => Effect.tryPromise(() => payload.heartbeat()).pipe(Effect.ignore)

    const deliver = <E, R>(
      group: string,
      handle: (message: IncomingMessage) => Effect.Effect<void, E, R>,
      payload: EachMessagePayload
    ) =>
      Effect.gen(function* () {
        const headers = payload.message.headers ?? {}
        const message = {
          topic: topicOf(payload.topic),
          key: payload.message.key?.toString("utf8") ?? null,
          value: payload.message.value?.toString("utf8") ?? "",
          correlationId: headerText(headers[correlationIdHeader]),
          eventId: headerText(headers[eventIdHeader]),
          traceparent: headerText(headers[traceparentHeader])
        }
        let redeliveries = 0
        while (!(yield* Redelivery.handleOnce(handle, { ...message, redeliveries }, group, "kafka"))) {
          redeliveries++
          // Heartbeats keep the group from declaring this member dead while it waits.
          yield* heartbeat(payload)
          yield* Effect.sleep(Redelivery.delay(options, redeliveries))
          yield* heartbeat(payload)
        }
      })

    /** One consumer's life: join, consume until kafkajs gives up on it (it restarts itself on most errors). */
    const session = <E, R>(
      subscription: SubscribeOptionsCheck.ValidSubscription,
      handle: (message: IncomingMessage) => Effect.Effect<void, E, R>,
      onReady: Effect.Effect<void>
    ) =>
      Effect.scoped(
        Effect.gen(function* () {
          const { group, concurrency } = subscription
          const consumer = kafka.consumer({ groupId: group, allowAutoTopicCreation: false })
          const joined = Deferred.makeUnsafe<void>()
          const stopped = Deferred.makeUnsafe<never, BrokerError>()
          consumer.on(consumer.events.GROUP_JOIN, () => Deferred.doneUnsafe(joined, Exit.void))
          consumer.on(consumer.events.CRASH, (event) => {
            if (!event.payload.restart)
              Deferred.doneUnsafe(
                stopped,
                Exit.fail(new BrokerError({ operation: "subscribe", cause: event.payload.error }))
              )
          })
          // Finalizers run last-added first: stop taking messages, interrupt the
          // running handlers (their offsets stay uncommitted), then disconnect,
          // which waits for kafkajs to see those handlers fail.
          yield* Effect.addFinalizer(() => Effect.tryPromise(() => consumer.disconnect()).pipe(Effect.ignore))
          const runPromise = yield* FiberSet.makeRuntimePromise<R>()
          let closing = false
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              closing = true
            })
          )
          yield* tryKafka("subscribe", () => consumer.connect())
          yield* tryKafka("subscribe", () =>
            consumer.subscribe({
              topics: subscription.topics.map(topicName),
              fromBeginning: options.fromBeginning ?? true
            })
          )
          yield* tryKafka("subscribe", () =>
            consumer.run({
              partitionsConsumedConcurrently: concurrency,
              // A rejection leaves the offset uncommitted: the message comes again.
              eachMessage: (payload) =>
                closing
                  ? Promise.reject(new Error("the subscription is closing"))
                  : runPromise(deliver(group, handle, payload))
            })
          )
          yield* Effect.raceFirst(Deferred.await(joined), Deferred.await(stopped)).pipe(
            Effect.timeoutOrElse({
              duration: joinTimeout,
              orElse: () => Effect.fail(timeoutError("subscribe", "the consumer did not join its group", joinTimeout))
            })
          )
          yield* onReady
          return yield* Deferred.await(stopped)
        })
      )

    const subscribe = <E, R>(
      subscribeOptions: SubscribeOptions,
      handle: (message: IncomingMessage) => Effect.Effect<void, E, R>
    ) =>
      Effect.gen(function* () {
        const subscription = yield* SubscribeOptionsCheck.validate(subscribeOptions)
        yield* ensureTopics("subscribe")
        yield* Supervisor.run({
          group: subscription.group,
          lost: "the Kafka consumer stopped",
          reconnectDelay,
          maxReconnectDelay: "30 seconds",
          session: (onReady) => session(subscription, handle, onReady)
        })
      })

    const ping = Effect.gen(function* () {
      yield* tryKafka("ping", () => admin.connect())
      yield* tryKafka("ping", () => admin.describeCluster())
    })

    // Connecting in the background only to create the topics and say early
    // when Kafka is down, which is not fatal: publishing fails until it is
    // back, and the outbox waits.
    yield* Effect.forkScoped(
      Effect.andThen(ensureTopics("connect"), connectProducer).pipe(
        Effect.catch((error) =>
          Effect.logWarning("Broker: Kafka is unreachable at start; publishing fails until it is back", error.message)
        )
      )
    )

    return Broker.of({ kind: "kafka", publish, subscribe, ping })
  })

/** A Kafka broker with explicit options. */
export const layer = (options: Options): Layer.Layer<Broker> => Layer.effect(Broker, make(options))

/** A Kafka broker from `KAFKA_BROKERS` and `KAFKA_CLIENT_ID`. */
export const layerConfig: Layer.Layer<Broker, Config.ConfigError> = Layer.effect(
  Broker,
  Effect.gen(function* () {
    const { brokers, clientId } = yield* config
    return yield* make({ brokers, clientId })
  })
)
