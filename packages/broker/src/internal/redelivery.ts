/**
 * What every adapter does when a handler fails: log why, wait, and deliver
 * the same message again. The wait doubles with each failure up to a cap, so
 * a message that keeps failing (it blocks its group until it succeeds: later
 * messages must not overtake it) costs little while someone looks at it.
 */
import { Cause, Duration, Effect } from "effect"
import type { IncomingMessage } from "../Broker.ts"
import * as Tracing from "./tracing.ts"

export interface RedeliveryOptions {
  /** The wait before the first redelivery (default 200 millis); it doubles after each failure. */
  readonly redeliveryDelay?: Duration.Input
  /** The longest wait between two deliveries of one message (default 10 seconds). */
  readonly maxRedeliveryDelay?: Duration.Input
}

/** `first`, doubled for each attempt after the first, never above `max` (also the reconnect backoff). */
export const backoff = (first: Duration.Input, max: Duration.Input, attempt: number): Duration.Duration => {
  const firstMillis = Duration.toMillis(Duration.fromInputUnsafe(first))
  const maxMillis = Duration.toMillis(Duration.fromInputUnsafe(max))
  return Duration.millis(Math.min(maxMillis, firstMillis * 2 ** Math.min(Math.max(attempt - 1, 0), 30)))
}

/** The wait before delivering again a message that has now failed `redeliveries` times. */
export const delay = (options: RedeliveryOptions, redeliveries: number): Duration.Duration =>
  backoff(options.redeliveryDelay ?? "200 millis", options.maxRedeliveryDelay ?? "10 seconds", redeliveries)

/**
 * Runs the handler once: true when it succeeded, false (logged) when it
 * failed or died. Interruption of the running fiber is not caught: it means
 * the subscription is closing, and the message stays unacknowledged. The
 * handler's logs carry the message's correlation id (`internal/tracing.ts`).
 */
export const handleOnce = <E, R>(
  handle: (message: IncomingMessage) => Effect.Effect<void, E, R>,
  message: IncomingMessage,
  group: string,
  kind: string
): Effect.Effect<boolean, never, R> =>
  Tracing.annotated(
    message,
    Tracing.consuming(
      kind,
      group,
      message,
      Effect.suspend(() => handle(message))
    ).pipe(
      Effect.as(true),
      Effect.catchCause((cause) =>
        Effect.logWarning("Broker: the handler failed; the message will be delivered again", Cause.pretty(cause)).pipe(
          Effect.annotateLogs({ group, key: message.key ?? "", redeliveries: message.redeliveries }),
          Effect.as(false)
        )
      )
    )
  )
