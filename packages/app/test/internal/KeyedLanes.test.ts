import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as KeyedLanes from "../../src/internal/KeyedLanes.ts"

describe("KeyedLanes", () => {
  it.effect("runs effects of one key one after another, in arrival order, and other keys beside them", () =>
    Effect.gen(function* () {
      const lanes = KeyedLanes.make()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const step = (name: string, wait = false) =>
        Effect.gen(function* () {
          log.push(`${name} start`)
          if (wait) yield* Deferred.await(gate)
          log.push(`${name} end`)
        })
      const a1 = yield* Effect.forkChild(lanes("a", step("a1", true)))
      const a2 = yield* Effect.forkChild(lanes("a", step("a2")))
      const b1 = yield* Effect.forkChild(lanes("b", step("b1")))
      yield* Fiber.join(b1)
      // b ran while a1 held lane a; a2 waits for a1.
      assert.deepStrictEqual(log, ["a1 start", "b1 start", "b1 end"])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(a1)
      yield* Fiber.join(a2)
      assert.deepStrictEqual(log, ["a1 start", "b1 start", "b1 end", "a1 end", "a2 start", "a2 end"])
    })
  )

  it.effect("frees a lane whose effect failed, so the next one of its key runs", () =>
    Effect.gen(function* () {
      const lanes = KeyedLanes.make()
      const failed = yield* Effect.flip(lanes("a", Effect.fail("boom")))
      assert.strictEqual(failed, "boom")
      assert.strictEqual(yield* lanes("a", Effect.succeed(1)), 1)
    })
  )
})
