/**
 * Chaos 4: RabbitMQ is cut away from the server mid-load for several seconds
 * (a TCP proxy between them drops every connection and refuses new ones;
 * the machine's RabbitMQ itself is never touched), then given back. While
 * it is away the outbox grows; afterwards it drains, every paid order is
 * shipped or cancelled by the shipping service exactly once, and nothing is
 * lost or parked.
 */

import { TestDatabase } from "@agora/testkit"
import { TcpProxy } from "@agora/testkit/tcp-proxy"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { sleep } from "./Concurrency.ts"
import * as EventLog from "./EventLog.ts"
import * as Metrics from "./Metrics.ts"
import * as Report from "./Report.ts"
import * as Scenario from "./Scenario.ts"
import * as Stores from "./Stores.ts"

const outageMs = 6_000

if (Stores.amqpUrl === "")
  console.log("chaos broker: AMQP_URL is not set, so this scenario is skipped (it needs RabbitMQ)")

describe.skipIf(Stores.amqpUrl === "")("chaos", () => {
  it.live(
    "stop RabbitMQ mid-load: the outbox grows, then drains; nothing lost",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const databaseUrl = yield* TestDatabase.create("chaos-broker")
          const redis = yield* Stores.redis("broker")
          const rabbit = yield* Stores.rabbit("broker")
          const proxy = Context.get(yield* Layer.build(TcpProxy.layer(Stores.amqpUrl)), TcpProxy)
          const backlog: Array<number> = []
          const gauge: Array<number | undefined> = []
          let publishedBefore: number | undefined
          const { report, output } = yield* Effect.promise(() =>
            Scenario.run({
              name: "4. stop RabbitMQ",
              label: "broker",
              env: {
                ...Scenario.baseEnv,
                DATABASE_URL: databaseUrl,
                ...redis,
                AMQP_URL: proxy.url,
                AMQP_EXCHANGE: rabbit.exchange
              },
              databaseUrl,
              users: 10,
              warmupMs: 3_000,
              tailMs: 5_000,
              cardTimeoutsPossible: false,
              fault: async (context) => {
                publishedBefore = await Metrics.read(context.server.url, "agora_outbox_published_total")
                await Effect.runPromise(proxy.set("refuse"))
                context.injected()
                context.phase("broker-down")
                const until = Date.now() + outageMs
                while (Date.now() < until) {
                  backlog.push(await EventLog.outboxBacklog(context.sql))
                  gauge.push(await Metrics.read(context.server.url, "agora_outbox_backlog"))
                  await sleep(500)
                }
                await Effect.runPromise(proxy.set("forward"))
              },
              afterRest: async (context) => {
                const grew = Math.max(0, ...backlog)
                if (grew === 0) context.violation("the outbox never grew while RabbitMQ was away")
                const publishedAfter = await Metrics.read(context.server.url, "agora_outbox_published_total")
                // The gauge, where the server exports it: it saw the backlog, and it is back to 0.
                const gaugeSeen = gauge.filter((v): v is number => v !== undefined)
                let gaugeAtRest: number | undefined
                if (gaugeSeen.length > 0) {
                  if (Math.max(...gaugeSeen) === 0)
                    context.violation("agora_outbox_backlog stayed 0 while RabbitMQ was away")
                  const deadline = Date.now() + 10_000
                  do {
                    gaugeAtRest = await Metrics.read(context.server.url, "agora_outbox_backlog")
                    if (gaugeAtRest === 0) break
                    await sleep(500)
                  } while (Date.now() < deadline)
                  if (gaugeAtRest !== 0) context.violation(`agora_outbox_backlog is ${gaugeAtRest} once all is at rest`)
                }
                context.note(
                  `outbox backlog while RabbitMQ was away: ${backlog.join(" ")}; agora_outbox_backlog ${gaugeSeen.length > 0 ? `${gaugeSeen.join(" ")}, at rest ${gaugeAtRest}` : "not exported"}; agora_outbox_published_total ${publishedBefore} → ${publishedAfter}`
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
