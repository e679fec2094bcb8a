/**
 * Chaos 2: the event store's PostgreSQL (one of the scenario's own) is shut
 * down mid-load for several seconds and started again. While it is away the
 * API answers 503 problems (never a 500) and readiness says so; once it is
 * back the same server process recovers by itself, and no acknowledged
 * write is lost.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { sleep } from "./Concurrency.ts"
import * as PostgresServer from "./PostgresServer.ts"
import * as Report from "./Report.ts"
import * as Scenario from "./Scenario.ts"
import * as Stores from "./Stores.ts"

const outageMs = 6_000

describe("chaos", () => {
  it.live(
    "restart PostgreSQL mid-load",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const pg = yield* PostgresServer.make
          const redis = yield* Stores.redis("postgres")
          const broker =
            Stores.amqpUrl === ""
              ? { AMQP_URL: "" }
              : { AMQP_URL: Stores.amqpUrl, AMQP_EXCHANGE: (yield* Stores.rabbit("postgres")).exchange }
          let readyWhileDown: Array<number> = []
          let recoveredMs = -1
          const { report, output } = yield* Effect.promise(() =>
            Scenario.run({
              name: "2. restart PostgreSQL",
              label: "postgres",
              env: { ...Scenario.baseEnv, DATABASE_URL: pg.url, ...redis, ...broker },
              databaseUrl: pg.url,
              users: 10,
              warmupMs: 3_000,
              tailMs: 5_000,
              writeBudgetMs: 30_000,
              cardTimeoutsPossible: true,
              fault: async (context) => {
                await pg.stop()
                context.injected()
                context.phase("db-down")
                const until = Date.now() + outageMs
                while (Date.now() < until) {
                  const ready = await context.client.send("GET", "/api/ready", { timeoutMs: 4_000 })
                  readyWhileDown.push(ready.status)
                  await sleep(500)
                }
                await pg.start()
                context.phase("recovering")
                const back = Date.now()
                while (Date.now() - back < 30_000) {
                  if ((await context.client.send("GET", "/api/ready")).status === 200) {
                    recoveredMs = Date.now() - back
                    break
                  }
                  await sleep(200)
                }
              },
              afterRest: async (context) => {
                const { client, server } = context
                if (server.starts !== 1) context.violation(`the server was started ${server.starts} times`)
                if (recoveredMs < 0) context.violation("readiness did not come back within 30 s of PostgreSQL")
                // The outage must have been seen, as 503s, or the scenario proved nothing.
                const unavailable = client.countOf("db-down", "write", (s) => s === 503)
                if (unavailable === 0) context.violation("no write was answered 503 while PostgreSQL was down")
                const tooLate = readyWhileDown.filter((s) => s !== 503)
                if (tooLate.length > 0) {
                  context.violation(`readiness answered ${tooLate.join(", ")} while PostgreSQL was down (not 503)`)
                }
                context.note(
                  `while down: readiness ${readyWhileDown.join(" ")}; writes answered 503 ${unavailable} times; ready again ${(recoveredMs / 1000).toFixed(1)} s after PostgreSQL was back`
                )
                readyWhileDown = []
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
