/**
 * Chaos 1: the server is killed with SIGKILL at random moments under load,
 * ten times, and started again each time on the same database, Redis and
 * RabbitMQ. Clients see their connections cut and refused and retry with
 * the same idempotency keys; afterwards every acknowledged write is there,
 * exactly once, and SPEC §5's invariants hold.
 */
import { TestDatabase } from "@agora/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { sleep } from "./Concurrency.ts"
import * as Report from "./Report.ts"
import * as Scenario from "./Scenario.ts"
import * as Stores from "./Stores.ts"

const kills = 10

describe("chaos", () => {
  it.live(
    "kill -9 the server at random moments, restarting it each time",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const databaseUrl = yield* TestDatabase.create("chaos-kills")
          const redis = yield* Stores.redis("kills")
          const broker =
            Stores.amqpUrl === ""
              ? { AMQP_URL: "" }
              : { AMQP_URL: Stores.amqpUrl, AMQP_EXCHANGE: (yield* Stores.rabbit("kills")).exchange }
          if (Stores.amqpUrl === "") console.log("chaos kills: AMQP_URL is not set; the in-process bus is used")
          const { report, output } = yield* Effect.promise(() =>
            Scenario.run({
              name: "1. kill -9 the server",
              label: "kills",
              env: { ...Scenario.baseEnv, DATABASE_URL: databaseUrl, ...redis, ...broker },
              databaseUrl,
              users: 10,
              warmupMs: 3_000,
              tailMs: 3_000,
              // A client keeps its idempotency key and asks again until it learns the outcome; a request cut off by
              // a kill holds its key for the lease (60 s), so some retries take the key over and run again.
              writeBudgetMs: 80_000,
              cardTimeoutsPossible: true,
              fault: async (context) => {
                context.phase("kills")
                for (let i = 0; i < kills; i++) {
                  // A random moment: sometimes while the new process is still catching up, sometimes well after.
                  await sleep(200 + Math.random() * 1_300)
                  await context.server.kill()
                  context.injected()
                  await context.server.restart()
                }
              },
              afterRest: async (context) => {
                if (context.server.starts !== kills + 1) {
                  context.violation(`the server started ${context.server.starts} times, expected ${kills + 1}`)
                }
                const lost = context.client.countOf("kills", "write", (status) => status === 0)
                const times = context.server.startTimes.map((ms) => (ms / 1000).toFixed(1))
                context.note(
                  `writes that got no answer during the kills (then retried): ${lost}; starts took ${times.join(" ")} s`
                )
              }
            })
          )
          console.log(Report.format(report))
          if (report.violations.length > 0) assert.fail(Report.failure(report, output))
        })
      ),
    300_000
  )
})
