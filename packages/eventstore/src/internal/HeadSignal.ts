/**
 * Wakes subscriptions that have caught up: every append (or NOTIFY from
 * another process) publishes the new head position, and a waiter resumes as
 * soon as the head moves past the position it has read up to.
 */
import { type Duration, Effect } from "effect"

export interface HeadSignal {
  readonly publish: (position: number) => Effect.Effect<void>
  /** Resumes once the head is beyond `position`, or after `maxWait` (the polling fallback). */
  readonly awaitBeyond: (position: number, maxWait: Duration.Input) => Effect.Effect<void>
  /** The highest position published so far. */
  readonly head: () => number
}

export const make = (): HeadSignal => {
  let head = 0
  let waiters = new Set<() => void>()
  return {
    head: () => head,
    publish: (position) =>
      Effect.sync(() => {
        if (position > head) head = position
        const woken = waiters
        waiters = new Set()
        for (const wake of woken) wake()
      }),
    awaitBeyond: (position, maxWait) =>
      Effect.suspend(() =>
        head > position
          ? Effect.void
          : Effect.callback<void>((resume) => {
              const wake = () => resume(Effect.void)
              waiters.add(wake)
              return Effect.sync(() => waiters.delete(wake))
            }).pipe(Effect.timeoutOption(maxWait), Effect.asVoid)
      )
  }
}
