/**
 * `PROJECTION_PARTITIONS`: 1 in one process, 4 with `CLUSTER=on`, what is set
 * when set, and a clear refusal outside 1 to 256.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { ReadModels } from "../../src/index.ts"

const partitionsWith = (env: Record<string, string>) =>
  ReadModels.partitionsConfig.parse(ConfigProvider.fromUnknown(env))

describe("PROJECTION_PARTITIONS", () => {
  it.effect("defaults to 1, and to 4 with CLUSTER=on; a value set wins", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* partitionsWith({}), 1)
      assert.strictEqual(yield* partitionsWith({ CLUSTER: "off" }), 1)
      assert.strictEqual(yield* partitionsWith({ CLUSTER: "on" }), 4)
      assert.strictEqual(yield* partitionsWith({ CLUSTER: "on", PROJECTION_PARTITIONS: "1" }), 1)
      assert.strictEqual(yield* partitionsWith({ PROJECTION_PARTITIONS: "16" }), 16)
    })
  )

  it.effect("refuses a value that is not a count of 1 to 256, rather than falling back to the default", () =>
    Effect.gen(function* () {
      for (const value of ["0", "257", "-2", "four", "1.5"]) {
        const error = yield* partitionsWith({ PROJECTION_PARTITIONS: value }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "ConfigError", value)
      }
    })
  )
})
