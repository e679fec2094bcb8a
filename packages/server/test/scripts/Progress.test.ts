/**
 * The scripts' progress bar and summary: drawn in place on a terminal at most
 * once per interval, silent elsewhere, and one summary line at the end.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as Output from "../../src/scripts/Output.ts"
import * as Progress from "../../src/scripts/Progress.ts"

const frames = (err: string) => err.split("\r").filter((frame) => frame !== "")

describe("Progress", () => {
  it.effect("on a terminal: redrawn in place, at most once per interval, and erased when done", () =>
    Effect.gen(function* () {
      const { written, layer } = Output.capture({ errIsTTY: true, errColumns: 100 })
      yield* Effect.gen(function* () {
        const progress = yield* Progress.make({ label: "replay", total: 1000, unit: "events" })
        yield* progress.advance(100)
        yield* progress.advance(100) // within the interval: not drawn
        yield* TestClock.adjust("150 millis")
        yield* progress.advance(300)
        yield* progress.done
      }).pipe(Effect.provide(layer))
      const clearToEnd = "\x1b[K"
      const drawn = frames(written.err)
      assert.strictEqual(drawn.length, 3)
      assert.isTrue(drawn.every((frame) => frame.endsWith(clearToEnd) && frame.length <= 99 + clearToEnd.length))
      const [first, second] = drawn.map((frame) => frame.slice(0, -clearToEnd.length))
      assert.match(first!, /^replay [█░]+ {3}10% {2}100\/1,000 events {2}0 events\/s$/)
      assert.match(second!, /^replay [█░]+ {3}50% {2}500\/1,000 events {2}3,333 events\/s {2}ETA 150 ms$/)
      assert.strictEqual(drawn[2], clearToEnd)
    })
  )

  it.effect("elsewhere (a pipe, a log): nothing is drawn", () =>
    Effect.gen(function* () {
      const { written, layer } = Output.capture({ errIsTTY: false })
      yield* Effect.gen(function* () {
        const progress = yield* Progress.make({ label: "replay", total: 10, unit: "events" })
        yield* progress.advance(10)
        yield* progress.done
      }).pipe(Effect.provide(layer))
      assert.strictEqual(written.err, "")
    })
  )

  it.effect("output to the same terminal lifts the bar first", () =>
    Effect.gen(function* () {
      const { written, layer } = Output.capture({ outIsTTY: true, errIsTTY: true })
      yield* Effect.gen(function* () {
        const progress = yield* Progress.make({ label: "replay", total: 10, unit: "events" })
        yield* progress.advance(5)
        const before = written.err.length
        yield* progress.above(Effect.void)
        assert.strictEqual(written.err.slice(before), "\r\x1b[K")
        yield* progress.advance(1) // redrawn at once after being lifted
        assert.include(written.err.slice(before), "60%")
      }).pipe(Effect.provide(layer))
    })
  )

  it("formats the summary as one line", () => {
    assert.strictEqual(
      Progress.formatSummary({
        label: "replay",
        counts: [
          ["scanned", 1_000_000],
          ["printed", 1234]
        ],
        unit: "events",
        elapsedMillis: 4000,
        notes: ["positions 1..1000000"]
      }),
      "replay: 1,000,000 events scanned, 1,234 printed in 4.0 s (250,000 events/s); positions 1..1000000"
    )
    assert.strictEqual(Progress.duration(125_000), "2 min 05 s")
  })
})
