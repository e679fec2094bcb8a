/**
 * One lane per key: effects run through a lane one after another, in the
 * order they arrived, while effects of other keys run beside them. A lane
 * exists only while something is in it or waiting for it, so a key seen once
 * leaves nothing behind.
 */
import { Effect, Semaphore } from "effect"

export type KeyedLanes = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

export const make = (): KeyedLanes => {
  const lanes = new Map<string, { readonly permit: Semaphore.Semaphore; users: number }>()
  return (key, effect) =>
    Effect.suspend(() => {
      let lane = lanes.get(key)
      if (lane === undefined) {
        lane = { permit: Semaphore.makeUnsafe(1), users: 0 }
        lanes.set(key, lane)
      }
      const held = lane
      held.users++
      return Semaphore.withPermit(held.permit, effect).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            if (--held.users === 0) lanes.delete(key)
          })
        )
      )
    })
}
