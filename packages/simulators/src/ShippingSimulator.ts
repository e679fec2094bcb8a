/**
 * The built-in shipping service (SPEC §2, §3 Shipments): consumes `order.paid`
 * from the broker and, after a delay, answers `order.shipped`, or
 * `order.cancelled` for a configured share of orders and for orders holding
 * a configured SKU. On by default; `SHIPPING_SIMULATOR=off` turns it off.
 *
 * Everything in an answer that a redelivery could change is derived from
 * the incoming message: the event id from its `event_id`, the tracking
 * number from the shipment id, the cancel decision from the order id. So a
 * redelivered `order.paid` yields the same answer, which the consumer's
 * inbox drops. A message that is not an `order.paid` is logged and
 * acknowledged: the simulator is not the system under test and must not
 * hold up the queue.
 */
import { Broker, type BrokerError, type IncomingMessage } from "@agora/broker"
import { Clock, Config, Duration, Effect, Layer, Schema } from "effect"
import * as NameHash from "./NameHash.ts"
import { OrderCancelled, OrderPaid, OrderShipped } from "./ShippingEvents.ts"

/** The consumer group: one delivery per message for the simulator. */
export const group = "shipping-simulator"

/** How the simulator behaves. */
export interface Settings {
  readonly enabled: boolean
  /** How long after `order.paid` the answer is published. */
  readonly delay: Duration.Duration
  /** The share (0..1) of orders cancelled instead of shipped. */
  readonly cancelRate: number
  /** Orders holding any of these SKUs are cancelled. */
  readonly cancelSkus: ReadonlySet<string>
  /** How many messages are handled at once (their delays overlap). */
  readonly concurrency: number
}

const Probability = Schema.Finite.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 1 })))

/** The settings from `SHIPPING_SIMULATOR` (on), `…_DELAY` (500 millis), `…_CANCEL_RATE` (0), `…_CANCEL_SKUS` (none). */
export const config: Config.Config<Settings> = Config.all({
  enabled: Config.schema(Schema.Literals(["on", "off"]), "SHIPPING_SIMULATOR").pipe(
    Config.withDefault("on" as const),
    Config.map((switch_) => switch_ === "on")
  ),
  delay: Config.Duration("SHIPPING_SIMULATOR_DELAY").pipe(Config.withDefault(Duration.millis(500))),
  cancelRate: Config.schema(Probability, "SHIPPING_SIMULATOR_CANCEL_RATE").pipe(Config.withDefault(0)),
  cancelSkus: Config.String("SHIPPING_SIMULATOR_CANCEL_SKUS").pipe(
    Config.withDefault(""),
    Config.map(
      (list) =>
        new Set(
          list
            .split(",")
            .map((sku) => sku.trim())
            .filter((sku) => sku !== "")
        )
    )
  ),
  concurrency: Config.succeed(64)
})

/** Whether the shipping service cancels `order` rather than ships it. */
export const cancels = (order: OrderPaid, settings: Pick<Settings, "cancelRate" | "cancelSkus">): boolean =>
  order.items.some((item) => settings.cancelSkus.has(item.sku)) ||
  NameHash.fraction(`${order.order_id}/cancel`) < settings.cancelRate

/** The answer to `order` at `now` (ISO 8601): the same ids every time for the same message. */
export const answer = (
  order: OrderPaid,
  now: string,
  settings: Pick<Settings, "cancelRate" | "cancelSkus">
): OrderShipped | OrderCancelled =>
  cancels(order, settings)
    ? {
        event_id: NameHash.uuid(`${order.event_id}/cancelled`),
        type: "order.cancelled",
        occurred_at: now,
        order_id: order.order_id,
        shipment_id: order.shipment_id,
        reason: "shipping_cancelled"
      }
    : {
        event_id: NameHash.uuid(`${order.event_id}/shipped`),
        type: "order.shipped",
        occurred_at: now,
        order_id: order.order_id,
        shipment_id: order.shipment_id,
        tracking_number: `TRK-${NameHash.code(`${order.shipment_id}/tracking`, 10)}`,
        shipped_at: now
      }

const decodeOrderPaid = Schema.decodeUnknownEffect(Schema.fromJsonString(OrderPaid))
const encodeShipped = Schema.encodeSync(Schema.fromJsonString(OrderShipped))
const encodeCancelled = Schema.encodeSync(Schema.fromJsonString(OrderCancelled))

/** Subscribes with `settings` for as long as the layer lives; nothing at all when disabled. */
export const layerWith = (settings: Settings): Layer.Layer<never, BrokerError, Broker> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      if (!settings.enabled) {
        yield* Effect.logInfo("Shipping simulator is off (SHIPPING_SIMULATOR=off)")
        return
      }
      const broker = yield* Broker
      const handle = (message: IncomingMessage) =>
        Effect.gen(function* () {
          const decoded = yield* Effect.result(decodeOrderPaid(message.value))
          if (decoded._tag === "Failure") {
            return yield* Effect.logWarning(
              `Shipping simulator: dropped a ${message.topic} message that is not an order.paid: ${decoded.failure.message}`
            )
          }
          const order = decoded.success
          yield* Effect.sleep(settings.delay)
          const event = answer(order, new Date(yield* Clock.currentTimeMillis).toISOString(), settings)
          yield* broker.publish([
            {
              topic: event.type,
              key: order.order_id,
              eventId: event.event_id,
              value: event.type === "order.shipped" ? encodeShipped(event) : encodeCancelled(event)
            }
          ])
          yield* Effect.logInfo(
            event.type === "order.shipped"
              ? `Shipping simulator: order ${order.order_id} shipped, ${event.tracking_number}`
              : `Shipping simulator: order ${order.order_id} cancelled`
          )
        })
      yield* broker.subscribe({ group, topics: ["order.paid"], concurrency: settings.concurrency }, handle)
      yield* Effect.logInfo(`Shipping simulator answers order.paid after ${Duration.format(settings.delay)}`)
    })
  )

/** The shipping simulator configured from the environment. */
export const layer: Layer.Layer<never, BrokerError | Config.ConfigError, Broker> = Layer.unwrap(
  Effect.gen(function* () {
    return layerWith(yield* config)
  })
)
