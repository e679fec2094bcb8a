/** `IDEMPOTENCY_KEY_LEASE`: 60 seconds unless set; under a second is refused at start, not taken. */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect } from "effect"
import { idempotencyKeyLeaseConfig } from "../src/index.ts"

const leaseWith = (env: Record<string, string>) => idempotencyKeyLeaseConfig.parse(ConfigProvider.fromUnknown(env))

describe("IDEMPOTENCY_KEY_LEASE", () => {
  it.effect("is 60 seconds unless set", () =>
    Effect.gen(function* () {
      assert.strictEqual(Duration.toMillis(yield* leaseWith({})), 60_000)
      assert.strictEqual(Duration.toMillis(yield* leaseWith({ IDEMPOTENCY_KEY_LEASE: "15 seconds" })), 15_000)
    })
  )

  it.effect("refuses a lease under a second, or one that is not a duration", () =>
    Effect.gen(function* () {
      for (const value of ["500 millis", "0 seconds", "soon"]) {
        const error = yield* leaseWith({ IDEMPOTENCY_KEY_LEASE: value }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "ConfigError", value)
      }
    })
  )
})
