/**
 * Chaos 5: every webhook and every broker message arrives twice, and out of
 * order. The payment simulator calls back twice (`PAYMENT_SIMULATOR_DUPLICATES=1`),
 * and once the orders are done every callback is sent once more, signed
 * afresh, shuffled across orders (a provider replaying late). A tap on the
 * scenario's RabbitMQ exchange publishes a copy of every `order.paid`,
 * `order.shipped` and `order.cancelled` (same event id) late and shuffled.
 * The webhook acknowledges duplicates with no second effect and the inbox
 * drops them: no order is paid, shipped or refunded twice.
 */

import type { Payment } from "@agora/domain"
import { WebhookSignature } from "@agora/edge"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as BrokerTap from "./BrokerTap.ts"
import { mapLimit, sleep } from "./Concurrency.ts"
import * as EventLog from "./EventLog.ts"
import * as Metrics from "./Metrics.ts"
import { awaitRest } from "./Quiescence.ts"
import * as Report from "./Report.ts"
import * as Scenario from "./Scenario.ts"
import * as Stores from "./Stores.ts"

const shuffle = <A>(items: Array<A>): Array<A> => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items
}

if (Stores.amqpUrl === "")
  console.log("chaos duplicates: AMQP_URL is not set, so this scenario is skipped (it needs RabbitMQ)")

describe.skipIf(Stores.amqpUrl === "")("chaos", () => {
  it.live(
    "deliver every webhook and broker message twice and out of order",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const databaseUrl = yield* TestDatabase.create("chaos-duplicates")
          const redis = yield* Stores.redis("duplicates")
          const rabbit = yield* Stores.rabbit("duplicates")
          const tap = yield* BrokerTap.make(Stores.amqpUrl, rabbit)
          const replays = { sent: 0, acknowledged: 0, refused: [] as Array<string> }
          const { report, output } = yield* Effect.promise(() =>
            Scenario.run({
              name: "5. duplicates, out of order",
              label: "duplicates",
              env: {
                ...Scenario.baseEnv,
                DATABASE_URL: databaseUrl,
                ...redis,
                AMQP_URL: Stores.amqpUrl,
                AMQP_EXCHANGE: rabbit.exchange,
                PAYMENT_SIMULATOR_DUPLICATES: "1"
              },
              databaseUrl,
              users: 10,
              warmupMs: 3_000,
              tailMs: 0,
              cardTimeoutsPossible: false,
              // The duplicates run all along (the simulator's, the tap's); this is the time they run under load.
              fault: async (context) => {
                context.phase("duplicates")
                await sleep(10_000)
              },
              beforeRest: async (context) => {
                // Late replays of every callback the provider made, once the orders are done, shuffled.
                await awaitRest(context.sql, { timeoutMs: 30_000 })
                const world = await EventLog.read(context.sql)
                const cardPayments = [...world.payments.entries()].filter(
                  ([, p]) => p._tag !== "NoPayment" && p.method === "card"
                ) as Array<[string, Payment.ExistingPayment]>
                await mapLimit(shuffle(cardPayments), 4, async ([paymentId, payment]) => {
                  const record = await context.client.send("GET", `/sim/payment-provider/payments/${paymentId}`)
                  if (record.status !== 200 || record.body.status === "pending") return
                  const body = JSON.stringify({
                    payment_id: paymentId,
                    order_id: payment.orderId,
                    status: record.body.status,
                    amount: record.body.amount,
                    error_message: record.body.status === "failed" ? "card declined" : null,
                    processed_at: new Date().toISOString(),
                    provider_reference: record.body.id
                  })
                  replays.sent++
                  const answer = await context.client.send("POST", "/api/payments/callback", {
                    json: JSON.parse(body),
                    headers: { "x-signature": WebhookSignature.sign(Scenario.webhookSecret, body) }
                  })
                  if (answer.status >= 200 && answer.status < 300) replays.acknowledged++
                  else replays.refused.push(`${paymentId}: ${answer.status} ${JSON.stringify(answer.body)}`)
                })
                context.injected(replays.sent)
                await Effect.runPromise(tap.flush)
              },
              afterRest: async (context) => {
                for (const refused of replays.refused) context.violation(`a replayed callback was refused: ${refused}`)
                const copies = (kind: string) => tap.copies.get(kind) ?? 0
                // The shipping service's answers (the inbox handles them), and Agora's own on the same topics (skipped).
                const answers = copies("order.shipped") + copies("order.cancelled")
                const own = copies("order.shipped/agora") + copies("order.cancelled/agora")
                const paid = copies("order.paid")
                context.injected(answers + own + paid)
                if (answers === 0 || paid === 0)
                  context.violation(`the tap copied ${paid} order.paid and ${answers} answers`)
                // Each copied answer, and the simulator's answer to each copied order.paid, reached the inbox again.
                const expected = answers + paid
                const deadline = Date.now() + 20_000
                let dropped: number | undefined
                do {
                  dropped = await Metrics.read(context.server.url, "agora_inbox_duplicates_total")
                  if ((dropped ?? 0) >= expected) break
                  await sleep(500)
                } while (Date.now() < deadline)
                if ((dropped ?? 0) < expected) {
                  context.violation(`the inbox dropped ${dropped} duplicates, but ${expected} were delivered`)
                }
                // Every payment the provider settled was called back twice by it, and once more by the replay.
                const callbacks = await Metrics.read(context.server.url, "agora_http_requests_total", {
                  route: "/api/payments/callback"
                })
                if ((callbacks ?? 0) < 3 * replays.sent) {
                  context.violation(
                    `${callbacks} callbacks reached the server for ${replays.sent} settled card payments, not 3 each`
                  )
                }
                context.note(
                  `broker copies: order.paid ${paid}, shipping answers ${answers}, Agora's own ${own}; inbox duplicates dropped ${dropped}; callbacks received ${callbacks} for ${replays.sent} card payments the provider settled (${replays.acknowledged} late replays acknowledged)`
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
