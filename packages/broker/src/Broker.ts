/**
 * The message broker port: the integration events of SPEC §4 go out and come
 * in through it. Delivery is at least once in both directions: `publish`
 * succeeds only once the broker has durably accepted every message (publisher
 * confirms, Kafka acks), and a subscription acknowledges a message only after
 * its handler succeeded, so a crash redelivers rather than loses. Consumers
 * dedupe by `eventId` (the inbox).
 *
 * Messages travel as raw JSON text: the consumer decodes them, so a message
 * that is not what it claims (malformed JSON, a missing field) reaches the
 * consumer, which parks it with a reason instead of the adapter dropping it.
 * Ordering is per key (the order id) within a topic: messages with the same
 * key and topic reach a subscription of concurrency 1 in the order they were
 * published. Across topics only RabbitMQ and the in-process bus keep that
 * order (one queue per group); Kafka orders each topic's partitions alone.
 *
 * Adapters: `InProcessBroker` (the embedded default), `RabbitMqBroker`,
 * `KafkaBroker`; `BrokerConfig.layerFromConfig` picks one from the environment.
 */
import { Context, type Effect, Schema, type Scope } from "effect"

/** The topics of SPEC §4 (Kafka topics; RabbitMQ routing keys on one topic exchange). */
export const topics = [
  "order.created",
  "order.paid",
  "order.shipped",
  "order.cancelled",
  "payment.succeeded",
  "payment.failed"
] as const
export type Topic = (typeof topics)[number]

/** A message to publish. */
export interface OutgoingMessage {
  readonly topic: Topic
  /** The partition / ordering key: the order id. */
  readonly key: string
  /** The integration event's id (also inside `value`); consumers dedupe on it. */
  readonly eventId: string
  /** The JSON text of the integration event. */
  readonly value: string
  /**
   * The id that follows the order through logs and traces (the order id; the
   * key when absent). It travels beside the body (RabbitMQ's `correlationId`
   * property, a Kafka header), never in it: the body is SPEC §4's.
   */
  readonly correlationId?: string
}

/** A delivered message, as raw as the broker gave it. */
export interface IncomingMessage {
  readonly topic: string
  readonly key: string | null
  /** The raw body; may be anything, the consumer validates it. */
  readonly value: string
  /**
   * How many times this message was delivered before, as far as the adapter
   * knows: failed attempts in this process, and at least 1 after a crash on
   * RabbitMQ and the in-process bus (Kafka cannot tell: 0).
   */
  readonly redeliveries: number
  /** The correlation id the publisher gave, when the adapter carries one (logs fall back to the key). */
  readonly correlationId?: string | undefined
  /** The event id the publisher gave beside the body (RabbitMQ's `messageId`, a Kafka header). */
  readonly eventId?: string | undefined
  /** The publisher's span as a W3C `traceparent`, when it was tracing: the consumer's span continues its trace. */
  readonly traceparent?: string | undefined
}

export interface SubscribeOptions {
  /** The consumer group (Kafka) / durable queue name (RabbitMQ): one delivery per group. */
  readonly group: string
  readonly topics: ReadonlyArray<Topic>
  /**
   * How many messages may be handled at once (default 1). With 1, messages
   * are handled in delivery order; above 1 they may complete out of order,
   * so consumers that need per-order ordering keep the default.
   */
  readonly concurrency?: number
}

/** The broker could not be reached or refused the operation. */
export class BrokerError extends Schema.TaggedError<BrokerError>()("BrokerError", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message() {
    return `broker ${this.operation} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

export class Broker extends Context.Service<
  Broker,
  {
    /** Which adapter: `in-process`, `rabbitmq` or `kafka` (for logs and readiness). */
    readonly kind: string
    /**
     * Publishes the messages in order and succeeds once the broker has durably
     * accepted all of them; on failure some may have been published (the
     * caller retries: consumers dedupe by `eventId`).
     */
    readonly publish: (messages: ReadonlyArray<OutgoingMessage>) => Effect.Effect<void, BrokerError>
    /**
     * Consumes the topics as the group for as long as the scope is open (one
     * message at a time with the default concurrency). A message is
     * acknowledged when `handle` succeeds; when it fails or dies, the same
     * message is delivered again after a growing wait, before any later one
     * of its key. Succeeds once the subscription is in place: a message
     * published after that reaches the group. Fails when that first setup
     * fails (the broker is unreachable; the caller may retry); from then on
     * the subscription reconnects by itself after broker outages.
     */
    readonly subscribe: <E, R>(
      options: SubscribeOptions,
      handle: (message: IncomingMessage) => Effect.Effect<void, E, R>
    ) => Effect.Effect<void, BrokerError, R | Scope.Scope>
    /** Succeeds when the broker answers (readiness). */
    readonly ping: Effect.Effect<void, BrokerError>
  }
>()("@agora/broker/Broker") {}
