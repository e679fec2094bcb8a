/**
 * Readers of the same page of the log share one query while it is in flight;
 * a reader that asks for more, or from elsewhere, sends its own; the first
 * reader's interruption leaves the others their answer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as SharedReads from "../src/internal/SharedReads.ts"

const world = () => {
  const calls: Array<{ readonly after: number; readonly limit: number }> = []
  const gate = Deferred.makeUnsafe<void>()
  const read = (options: { readonly after: number; readonly limit: number }) =>
    Effect.gen(function* () {
      calls.push(options)
      yield* Deferred.await(gate)
      return Array.from({ length: options.limit }, (_, i) => options.after + i + 1)
    })
  return { calls, gate, shared: SharedReads.make(read) }
}

describe("shared reads of the log", () => {
  it.live("concurrent reads of the same page send one query; more or elsewhere send their own", () =>
    Effect.gen(function* () {
      const { calls, gate, shared } = world()
      const fibers = yield* Effect.forEach(
        [
          { after: 10, limit: 5 },
          { after: 10, limit: 5 },
          { after: 10, limit: 3 },
          { after: 10, limit: 8 },
          { after: 20, limit: 2 }
        ],
        (options) => Effect.forkChild(shared(options))
      )
      yield* Effect.sleep("20 millis")
      assert.deepStrictEqual(calls, [
        { after: 10, limit: 5 },
        { after: 10, limit: 8 },
        { after: 20, limit: 2 }
      ])
      yield* Deferred.succeed(gate, undefined)
      const pages = yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(pages, [
        [11, 12, 13, 14, 15],
        [11, 12, 13, 14, 15],
        [11, 12, 13],
        [11, 12, 13, 14, 15, 16, 17, 18],
        [21, 22]
      ])
      // Done: the next read queries again.
      yield* shared({ after: 10, limit: 5 })
      assert.strictEqual(calls.length, 4)
    })
  )

  it.live("the first reader's interruption does not take the query from the others", () =>
    Effect.gen(function* () {
      const { calls, gate, shared } = world()
      const first = yield* Effect.forkChild(shared({ after: 0, limit: 2 }))
      const second = yield* Effect.forkChild(shared({ after: 0, limit: 2 }))
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(first)
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.join(second), [1, 2])
      assert.strictEqual(calls.length, 1)
    })
  )
})
