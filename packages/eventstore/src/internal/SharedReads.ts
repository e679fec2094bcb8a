/**
 * One query for many readers of the same page of the log. Every subscription
 * of a process wakes on the same append and asks for the page after the same
 * position; while such a read is in flight, a reader asking for the same start
 * (and no more events than it asked) shares its result instead of sending the
 * same query again. The query runs detached from the first reader, so its
 * interruption cannot leave the others waiting.
 */
import { Deferred, Effect } from "effect"

export const make = <A, E>(
  read: (options: { readonly after: number; readonly limit: number }) => Effect.Effect<ReadonlyArray<A>, E>
) => {
  const inflight = new Map<
    number,
    { readonly limit: number; readonly result: Deferred.Deferred<ReadonlyArray<A>, E> }
  >()
  return (options: { readonly after: number; readonly limit: number }): Effect.Effect<ReadonlyArray<A>, E> =>
    Effect.suspend(() => {
      const running = inflight.get(options.after)
      if (running !== undefined && running.limit >= options.limit) {
        return Effect.map(Deferred.await(running.result), (page) =>
          page.length > options.limit ? page.slice(0, options.limit) : page
        )
      }
      const result = Deferred.makeUnsafe<ReadonlyArray<A>, E>()
      if (running === undefined) inflight.set(options.after, { limit: options.limit, result })
      return read(options).pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Effect.sync(() => {
            if (inflight.get(options.after)?.result === result) inflight.delete(options.after)
            Deferred.doneUnsafe(result, exit)
          })
        ),
        Effect.forkDetach,
        Effect.flatMap(() => Deferred.await(result))
      )
    })
}
