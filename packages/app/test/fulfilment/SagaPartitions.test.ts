/**
 * The saga's log follower split into partitions: an order's reports always go
 * to the same partition, the partitions share the orders out, and a partition
 * without a checkpoint starts where an earlier split had passed for every
 * order — never later (reports would be lost), not needlessly earlier.
 */
import { assert, describe, it } from "@effect/vitest"
import { FulfilmentSaga } from "../../src/index.ts"

const { checkpointNames, partitionOf, startOfNewPartition } = FulfilmentSaga

describe("saga partitions", () => {
  it("an order always falls in the same partition, and orders spread over all of them", () => {
    const ids = Array.from({ length: 4_000 }, (_, i) => `0190a000-0000-7000-8000-${String(i).padStart(12, "0")}`)
    const counts = [0, 0, 0, 0]
    for (const id of ids) {
      const partition = partitionOf(id, 4)
      assert.strictEqual(partitionOf(id, 4), partition)
      counts[partition]!++
    }
    for (const count of counts) assert.isAbove(count, 800, `uneven: ${counts}`)
    assert.strictEqual(partitionOf(ids[0]!, 1), 0)
  })

  it("names one checkpoint per partition; one partition keeps the single follower's name", () => {
    assert.deepStrictEqual(checkpointNames(1), ["fulfilment-saga"])
    assert.deepStrictEqual(checkpointNames(3), ["fulfilment-saga/3/0", "fulfilment-saga/3/1", "fulfilment-saga/3/2"])
  })

  it("a new partition starts after the single follower's checkpoint (an upgrade)", () => {
    assert.strictEqual(startOfNewPartition([{ name: "fulfilment-saga", position: 1_200 }]), 1_200)
  })

  it("a new partition starts at the least checkpoint of a complete earlier split, the furthest such split", () => {
    const checkpoints = [
      { name: "fulfilment-saga", position: 900 },
      { name: "fulfilment-saga/2/0", position: 5_000 },
      { name: "fulfilment-saga/2/1", position: 4_200 },
      // The split being started (SAGA_PARTITIONS=4): incomplete, its partitions are not the new one's.
      { name: "fulfilment-saga/4/0", position: 7_000 },
      { name: "other-subscription", position: 9_000 }
    ]
    assert.strictEqual(startOfNewPartition(checkpoints), 4_200)
  })

  it("an incomplete split tells nothing; with no complete split a new partition starts at the beginning", () => {
    assert.strictEqual(startOfNewPartition([{ name: "fulfilment-saga/3/0", position: 8_000 }]), 0)
    assert.strictEqual(startOfNewPartition([]), 0)
  })
})
