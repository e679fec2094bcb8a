/**
 * Chaos 3: the read models' Redis (one of the scenario's own, without
 * persistence) is killed mid-load and started again empty a few seconds
 * later. While it is away every read still answers 200, from the event
 * store; once it is back the projections catch up by themselves: readiness
 * shows none behind, and a dry-run rebuild finds the read models in Redis
 * equal to what the log says.
 */
import { spawn } from "node:child_process"
import { once } from "node:events"
import { fileURLToPath } from "node:url"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { sleep } from "./Concurrency.ts"
import * as RedisServer from "./RedisServer.ts"
import * as Report from "./Report.ts"
import * as Scenario from "./Scenario.ts"
import * as Stores from "./Stores.ts"

const outageMs = 6_000
const rebuildScript = fileURLToPath(new URL("../../../../scripts/rebuild.ts", import.meta.url))

interface ReadModelsReady {
  readonly status: string
  readonly projections: Record<string, { readonly behind_events: number | null; readonly last_error: unknown }>
}

/** `pnpm run rebuild all --dry-run`: compares the live read models with a fresh projection of the log. */
const dryRunRebuild = async (env: Readonly<Record<string, string>>) => {
  const child = spawn(process.execPath, [rebuildScript, "all", "--dry-run"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const keep = (chunk: Buffer) => {
    output += chunk.toString()
  }
  child.stdout.on("data", keep)
  child.stderr.on("data", keep)
  const [code] = (await once(child, "exit")) as [number | null]
  return { code, output }
}

const skipped = !RedisServer.available()
if (skipped) console.log("chaos redis: redis-server is not on the PATH, so this scenario is skipped")

describe.skipIf(skipped)("chaos", () => {
  it.live(
    "stop Redis mid-load: reads fall back to the event store, projections catch up",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const databaseUrl = yield* TestDatabase.create("chaos-redis")
          const redisServer = yield* RedisServer.make
          // A Redis of its own, gone with the scope: no keys to clean up.
          const redis = {
            REDIS_URL: redisServer.url,
            READ_MODEL_PREFIX: "agora-chaos:rm:",
            RATE_LIMIT_REDIS_PREFIX: "agora-chaos:rl:"
          }
          const broker =
            Stores.amqpUrl === ""
              ? { AMQP_URL: "" }
              : { AMQP_URL: Stores.amqpUrl, AMQP_EXCHANGE: (yield* Stores.rabbit("redis")).exchange }
          const env = { ...Scenario.baseEnv, DATABASE_URL: databaseUrl, ...redis, ...broker }
          const degraded: Array<string> = []
          const { report, output } = yield* Effect.promise(() =>
            Scenario.run({
              name: "3. stop Redis",
              label: "redis",
              env,
              databaseUrl,
              users: 10,
              warmupMs: 3_000,
              tailMs: 5_000,
              cardTimeoutsPossible: false,
              fault: async (context) => {
                await redisServer.kill()
                context.injected()
                context.phase("redis-down")
                const until = Date.now() + outageMs
                while (Date.now() < until) {
                  const ready = await context.client.send("GET", "/api/ready")
                  degraded.push(`${ready.status}/${ready.body?.status}`)
                  await sleep(1_000)
                }
                await redisServer.start()
              },
              afterRest: async (context) => {
                const { client } = context
                const reads = client.countOf("redis-down", "read", () => true)
                const failed = client.countOf("redis-down", "read", (s) => s !== 200)
                if (reads === 0) context.violation("no read was made while Redis was down")
                if (failed > 0) {
                  const statuses = [...(client.statuses.get("redis-down/read") ?? [])]
                    .filter(([s]) => s !== 200)
                    .map(([s, n]) => `${s}×${n}`)
                  context.violation(`${failed} of ${reads} reads failed while Redis was down: ${statuses.join(" ")}`)
                }
                // Caught up: readiness shows the store up and no projection behind or failing.
                const deadline = Date.now() + 30_000
                let last: ReadModelsReady | undefined
                while (Date.now() < deadline) {
                  const ready = await client.send("GET", "/api/ready")
                  last = ready.body?.checks?.read_models as ReadModelsReady | undefined
                  const behind = Object.values(last?.projections ?? {}).filter(
                    (p) => p.behind_events !== 0 || p.last_error !== null
                  )
                  if (ready.status === 200 && last?.status === "up" && behind.length === 0) break
                  last = { status: `not caught up: ${JSON.stringify(last)}`, projections: {} }
                  await sleep(500)
                }
                if (last?.status !== "up") context.violation(`the read models did not catch up: ${last?.status}`)
                const rebuild = await dryRunRebuild(env)
                if (rebuild.code !== 0) {
                  context.violation(
                    `the read models in Redis differ from the log (rebuild --dry-run exited ${rebuild.code}):\n${rebuild.output.slice(-3000)}`
                  )
                }
                context.note(`readiness while Redis was down: ${degraded.join(" ")}`)
                context.note(
                  `reads while Redis was down: ${reads}, failed ${failed}; rebuild --dry-run exit ${rebuild.code}`
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
