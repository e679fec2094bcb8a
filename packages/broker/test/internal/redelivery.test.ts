import { assert, describe, it } from "@effect/vitest"
import { Duration } from "effect"
import * as Redelivery from "../../src/internal/redelivery.ts"

describe("redelivery backoff", () => {
  it("doubles from the first wait and stops at the cap", () => {
    const waits = [1, 2, 3, 4, 5, 6, 50].map((n) =>
      Duration.toMillis(Redelivery.delay({ redeliveryDelay: "100 millis", maxRedeliveryDelay: "2 seconds" }, n))
    )
    assert.deepStrictEqual(waits, [100, 200, 400, 800, 1600, 2000, 2000])
  })

  it("waits 200 millis at first and 10 seconds at most by default", () => {
    assert.strictEqual(Duration.toMillis(Redelivery.delay({}, 1)), 200)
    assert.strictEqual(Duration.toMillis(Redelivery.delay({}, 1000)), 10_000)
  })
})
