/**
 * What every adapter does for logs and traces around a message.
 *
 * Publishing: a span `Broker.<adapter>.publish`, whose trace context the
 * messages carry as `traceparent`. Consuming: the handler's logs annotated
 * with the message's `correlation_id` (the order id), `event_id` and topic,
 * and its work in a span `Broker.<adapter>.consume` that continues the
 * publisher's trace. Spans are made only when they are exported (the same
 * rule as `@agora/eventstore`'s `Spans`, which this package, depending on no
 * other of ours, cannot import): otherwise they cost microseconds for nothing.
 */
import { Effect, type Fiber, Option, References, Tracer } from "effect"
import { Headers, HttpTraceContext } from "effect/http"
import type { IncomingMessage } from "../Broker.ts"

const isTracing = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(References.TracerEnabled) && fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer

/**
 * Runs `publish` in a span (when tracing) and hands it the span's
 * `traceparent` for the messages to carry; `undefined` when not tracing.
 */
export const publishing = <A, E, R>(
  kind: string,
  count: number,
  publish: (traceparent: string | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    if (!isTracing(fiber)) return publish(undefined)
    return Effect.withSpan(
      Effect.flatMap(Effect.currentSpan.pipe(Effect.option), (span) =>
        publish(Option.isSome(span) ? HttpTraceContext.toHeaders(span.value).traceparent : undefined)
      ),
      `Broker.${kind}.publish`,
      {
        kind: "producer",
        attributes: { "messaging.system": kind, "messaging.batch.message_count": count },
        captureStackTrace: false
      }
    )
  })

const correlationIdOf = (message: IncomingMessage): string | undefined =>
  message.correlationId ?? message.key ?? undefined

/** `effect`'s logs annotated with what identifies `message`: its topic, correlation id and event id. */
export const annotated = <A, E, R>(
  message: IncomingMessage,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const correlationId = correlationIdOf(message)
  return Effect.annotateLogs(effect, {
    topic: message.topic,
    ...(correlationId === undefined ? {} : { correlation_id: correlationId }),
    ...(message.eventId === undefined ? {} : { event_id: message.eventId })
  })
}

/** Handling `message`, in a consumer span that continues the publisher's trace (when tracing). */
export const consuming = <A, E, R>(
  kind: string,
  group: string,
  message: IncomingMessage,
  handle: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    if (!isTracing(fiber)) return handle
    const correlationId = correlationIdOf(message)
    const parent =
      message.traceparent === undefined
        ? Option.none()
        : HttpTraceContext.w3c(Headers.fromInput({ traceparent: message.traceparent }))
    return Effect.withSpan(handle, `Broker.${kind}.consume`, {
      kind: "consumer",
      ...(Option.isSome(parent) ? { parent: parent.value } : {}),
      attributes: {
        "messaging.system": kind,
        "messaging.destination.name": message.topic,
        "messaging.consumer.group.name": group,
        ...(correlationId === undefined ? {} : { correlation_id: correlationId }),
        ...(message.eventId === undefined ? {} : { "messaging.message.id": message.eventId })
      },
      captureStackTrace: false
    })
  })
