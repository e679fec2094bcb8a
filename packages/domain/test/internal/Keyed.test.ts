/**
 * The persistent maps held in states read and write the same JSON records as
 * the plain records before them (snapshots written earlier decode, entry
 * order kept), and a window forgets exactly its oldest keys.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import {
  EntriesOf,
  emptyWindow,
  entriesToRecord,
  lookup,
  lookupIn,
  type Window,
  WindowOf,
  windowSize,
  windowToRecord,
  withEntry,
  withLatest,
  withoutEntry
} from "../../src/internal/Keyed.ts"

const Entries = EntriesOf(Schema.Int)
const Outcomes = WindowOf(Schema.Literals(["released", "shipped"]))

describe("persistent maps in states", () => {
  it("entries decode from a record and encode back to it; updates leave the map before them as it was", () => {
    const stored: Record<string, number> = { a: 1, b: 2 }
    // An own key "__proto__", as JSON.parse makes one.
    Object.defineProperty(stored, "__proto__", { value: 3, enumerable: true, writable: true, configurable: true })
    const entries = Schema.decodeUnknownSync(Entries)(JSON.parse(JSON.stringify(stored)))
    assert.strictEqual(lookup(entries, "__proto__"), 3)
    assert.strictEqual(lookup(entries, "constructor"), undefined)
    const changed = withoutEntry(withEntry(entries, "c", 4), "a")
    assert.deepStrictEqual(entriesToRecord(entries), { a: 1, b: 2, ["__proto__"]: 3 })
    const encoded = Schema.encodeSync(Entries)(changed)
    assert.deepStrictEqual(Object.entries(encoded).sort(), [
      ["__proto__", 3],
      ["b", 2],
      ["c", 4]
    ])
    assert.strictEqual(Object.getPrototypeOf(encoded), Object.prototype)
  })

  it("a window keeps its latest keys in first-insertion order and round-trips through JSON in that order", () => {
    let window: Window<"released" | "shipped"> = emptyWindow()
    for (let i = 0; i < 25; i++) window = withLatest(window, `o${i}`, "released", 10)
    // A key already held keeps its place when its value changes.
    window = withLatest(window, "o20", "shipped", 10)
    assert.strictEqual(windowSize(window), 10)
    assert.deepStrictEqual(
      Object.keys(windowToRecord(window)),
      Array.from({ length: 10 }, (_, i) => `o${i + 15}`)
    )
    assert.strictEqual(lookupIn(window, "o14"), undefined)
    assert.strictEqual(lookupIn(window, "o20"), "shipped")
    const json = JSON.parse(JSON.stringify(Schema.encodeSync(Outcomes)(window)))
    assert.deepStrictEqual(Object.keys(json), Object.keys(windowToRecord(window)))
    // Decoded (a snapshot read back), it goes on forgetting in the same order.
    let back = Schema.decodeUnknownSync(Outcomes)(json)
    assert.deepStrictEqual(windowToRecord(back), windowToRecord(window))
    back = withLatest(back, "o25", "released", 10)
    assert.deepStrictEqual(Object.keys(windowToRecord(back))[0], "o16")
  })
})
