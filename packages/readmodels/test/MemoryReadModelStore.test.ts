import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { MemoryReadModelStore } from "../src/index.ts"
import { compareBytewise } from "../src/internal/SortedIndex.ts"
import { put, readModelStoreContract, StoreUnderTest } from "./ReadModelStoreContract.ts"

readModelStoreContract(
  "in-process",
  Layer.effect(
    StoreUnderTest,
    Effect.map(MemoryReadModelStore.make, (store) => ({ store, peer: store, switchVisibleWithinMillis: 0 }))
  )
)

describe("in-process adapter", () => {
  it.effect("expires documents by the Clock", () =>
    Effect.gen(function* () {
      const store = yield* MemoryReadModelStore.make
      const g1 = { projection: "p", generation: yield* store.activeGeneration("p") }
      yield* store.commit(g1, {
        expectedCheckpoint: 0,
        checkpoint: 1,
        writes: [put("a", 1, "a", 60)],
        requireActive: true
      })
      yield* TestClock.adjust("59999 millis")
      assert.strictEqual((yield* store.getDocs(g1, ["a"]))[0]?.json, "a")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* store.getDocs(g1, ["a"]), [undefined])
    })
  )

  it.effect("compares strings by their UTF-8 bytes, as Redis does", () =>
    Effect.sync(() => {
      const samples = [
        "",
        "a",
        "A",
        "ab",
        "a\u0000",
        "é",
        "\u07ff",
        "\u0800",
        "\ud7ff",
        "\ue000",
        "ｚ",
        "\uffff",
        "😀",
        "𐀀",
        "😀a",
        "a😀"
      ]
      for (const a of samples)
        for (const b of samples)
          assert.strictEqual(
            Math.sign(compareBytewise(a, b)),
            Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))),
            `${JSON.stringify(a)} vs ${JSON.stringify(b)}`
          )
    })
  )
})
