/**
 * Group commit: appends that arrive while a batch is being written wait in a
 * queue and are written together by the next batch, in one statement and one
 * transaction, so one commit (one WAL flush) serves many callers. Each caller
 * still gets its own result: the append function judges every unit on its own
 * and writes only the units whose version checks pass.
 *
 * A unit never shares a batch with another unit on the same stream (the
 * function judges all units against the state before the batch); it waits for
 * the next batch, which keeps the order in which appends to one stream arrived.
 *
 * Every append serialises on the append lock (ADR 0002), so more writers do
 * not write in parallel; they pipeline: while one batch commits, the next is
 * already parsed and waiting on the lock in the database, which saves a round
 * trip per batch. Batches on different writers are judged one after the other
 * by the database, so a unit is always checked against every earlier commit.
 */
import { Deferred, Effect, Queue, Semaphore } from "effect"

/** One caller's append, ready for the wire. */
export interface Unit<P> {
  readonly payload: P
  readonly streams: ReadonlyArray<string>
  readonly eventCount: number
}

interface Pending<P, R, E> extends Unit<P> {
  readonly done: Deferred.Deferred<R, E>
}

export interface Options {
  /** Events at most per batch. */
  readonly maxBatchEvents: number
  /** Batches in flight at once, each on its own connection. */
  readonly writers: number
}

export interface GroupCommit<P, R, E> {
  readonly submit: (unit: Unit<P>) => Effect.Effect<R, E>
}

/**
 * Starts the writer fibers (in the caller's scope) and returns `submit`, which
 * resolves with the unit's slice of the batch result. `write` receives the
 * units of one batch and returns one result per unit, in order.
 */
export const make = <P, R, E>(
  write: (payloads: ReadonlyArray<P>) => Effect.Effect<ReadonlyArray<R>, E>,
  options: Options & { readonly onDefect: (defect: unknown) => E }
) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<Pending<P, R, E>>()
    let carried: Array<Pending<P, R, E>> = []

    const takeBatch = Effect.gen(function* () {
      const waiting = carried.length > 0 ? [...carried, ...(yield* Queue.clear(queue))] : yield* Queue.takeAll(queue)
      const batch: Array<Pending<P, R, E>> = []
      const next: Array<Pending<P, R, E>> = []
      const streams = new Set<string>()
      let events = 0
      for (const unit of waiting) {
        const clash = unit.streams.some((s) => streams.has(s))
        const full = events > 0 && events + unit.eventCount > options.maxBatchEvents
        if (clash || full) {
          // Later units on the same streams must not overtake this one.
          for (const s of unit.streams) streams.add(s)
          next.push(unit)
        } else {
          for (const s of unit.streams) streams.add(s)
          events += unit.eventCount
          batch.push(unit)
        }
      }
      carried = next
      return batch
    })

    // A failed batch of several units is retried one unit at a time, so one
    // unit that the database rejects cannot fail its neighbours.
    const settle = (batch: ReadonlyArray<Pending<P, R, E>>): Effect.Effect<void> =>
      write(batch.map((unit) => unit.payload)).pipe(
        Effect.catchDefect((defect) => Effect.fail(options.onDefect(defect))),
        Effect.matchEffect({
          onSuccess: (results) =>
            Effect.forEach(batch, (unit, i) => Deferred.succeed(unit.done, results[i] as R), { discard: true }),
          onFailure: (error) =>
            batch.length === 1
              ? Deferred.fail(batch[0]!.done, error).pipe(Effect.asVoid)
              : Effect.forEach(batch, (unit) => settle([unit]), { discard: true })
        })
      )

    // One writer at a time forms a batch, so the carried units keep their order.
    const forming = yield* Semaphore.make(1)
    const writer = Effect.forever(Effect.flatMap(Semaphore.withPermit(forming, takeBatch), settle))
    for (let i = 0; i < options.writers; i++) yield* Effect.forkScoped(writer)

    const submit = (unit: Unit<P>) =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<R, E>()
        yield* Queue.offer(queue, { ...unit, done })
        return yield* Deferred.await(done)
      })
    return { submit } satisfies GroupCommit<P, R, E>
  })
