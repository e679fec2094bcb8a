/**
 * Spans that cost nothing when traces go nowhere. A span is made only when a
 * tracer other than Effect's in-memory default is installed (the server's
 * OTLP exporter) and tracing is on; otherwise the effect runs as it is. An
 * unexported span still costs a few microseconds (a span object, two context
 * updates), which the hot paths that use this (an actor command, an append)
 * must not pay for nothing; the check costs one fiber read.
 */
import { Effect, type Fiber, References, Tracer } from "effect"

/** Whether spans made now would be exported. */
export const isTracing = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(References.TracerEnabled) && fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer

/**
 * `effect` in a span named `name`, when tracing (see the module header);
 * `effect` itself otherwise. A name or attributes given as a function are
 * only built for a span.
 */
export const traced = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string | (() => string),
  options?: {
    readonly attributes?: Record<string, unknown> | (() => Record<string, unknown>)
    readonly kind?: Tracer.SpanKind
  }
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    if (!isTracing(fiber)) return effect
    const attributes = typeof options?.attributes === "function" ? options.attributes() : options?.attributes
    return Effect.withSpan(effect, typeof name === "function" ? name() : name, {
      ...(attributes === undefined ? {} : { attributes }),
      ...(options?.kind === undefined ? {} : { kind: options.kind }),
      captureStackTrace: false
    })
  })
