/**
 * Publishes the outbox to the broker, in `id` order (the commit order of the
 * events that caused the messages, so per order id too), and marks what the
 * broker accepted. A broker outage stops it (with a growing pause, up to
 * 5 s) and the outbox grows; it drains when the broker is back. A crash
 * between publishing and marking republishes those messages: consumers
 * dedupe by `event_id`. Runs in one process at a time, under the lease
 * `outbox-relay` (two relays for a moment would publish some messages twice,
 * which consumers dedupe).
 *
 * Each message carries its order id as correlation id beside the body, and
 * each one published is logged with it (`correlation_id`, `event_id`).
 */
import { Broker, type OutgoingMessage, type Topic } from "@agora/broker"
import { Spans } from "@agora/eventstore"
import { Config, Duration, Effect, Metric, Schedule } from "effect"
import { SqlClient } from "effect/sql"

export const published = Metric.counter("agora_outbox_published_total", {
  description: "Integration events the outbox relay published",
  incremental: true
})

interface Row {
  readonly id: string | number
  readonly event_id: string
  readonly topic: string
  readonly key: string
  readonly payload: unknown
}

const batchSize = 500

/** Publishes one batch; returns how many messages it published. */
export const publishBatch = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const broker = yield* Broker
  // Polled every 20 ms: untraced, or an idle relay would fill the traces; a batch it publishes is traced.
  const rows = yield* sql<Row>`
    SELECT id, event_id, topic, key, payload FROM outbox
    WHERE published_at IS NULL ORDER BY id LIMIT ${batchSize}`.pipe(Effect.withTracerEnabled(false))
  if (rows.length === 0) return 0
  const messages: Array<OutgoingMessage> = rows.map((row) => ({
    topic: row.topic as Topic,
    key: row.key,
    eventId: row.event_id,
    correlationId: row.key,
    value: typeof row.payload === "string" ? row.payload : JSON.stringify(row.payload)
  }))
  const ids = rows.map((row) => String(row.id))
  yield* Spans.traced(
    Effect.andThen(
      broker.publish(messages),
      sql`UPDATE outbox SET published_at = now() WHERE id = ANY(${ids}::bigint[])`
    ),
    "OutboxRelay.publish",
    { attributes: { "messaging.batch.message_count": rows.length } }
  )
  yield* Metric.update(published, rows.length)
  yield* Effect.forEach(rows, logPublished, { discard: true })
  return rows.length
})

const logPublished = (row: Row) =>
  Effect.logInfo(`outbox: published ${row.topic}`).pipe(
    Effect.annotateLogs({ correlation_id: row.key, event_id: row.event_id, topic: row.topic })
  )

/** The relay's lease. */
export const leaseName = "outbox-relay"

/** The redelivery pass's lease. */
export const redeliveryLeaseName = "outbox-redelivery"

/** The relay: publishes while there is a backlog, then checks every 20 ms; backs off while the broker is down. */
export const run = Effect.gen(function* () {
  let failures = 0
  while (true) {
    const outcome = yield* Effect.result(publishBatch)
    if (outcome._tag === "Success") {
      failures = 0
      if (outcome.success < batchSize) yield* Effect.sleep("20 millis")
      continue
    }
    failures++
    if (failures === 1 || failures % 20 === 0) {
      yield* Effect.logWarning(
        `outbox relay: publishing failed ${failures} time(s) in a row; retrying`,
        outcome.failure
      )
    }
    yield* Effect.sleep(Duration.millis(Math.min(5_000, 50 * 2 ** Math.min(failures, 7))))
  }
}).pipe(Effect.retry(Schedule.spaced("1 second")))

/** How long an `order.paid` may stay unanswered before it is published again. */
export const shippingRetryConfig = Config.Duration("SHIPPING_REQUEST_RETRY").pipe(
  Config.withDefault(Duration.seconds(30))
)

/**
 * Publishes again every `order.paid` whose order has had no answer (neither
 * shipped nor cancelled) for `after`: a message the broker lost (the
 * in-process bus in a crash) or the shipping service dropped is asked again,
 * with its own event id, so a service that did answer sees a duplicate. Returns
 * how many were queued again.
 */
export const redeliverUnanswered = (after: Duration.Duration) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly id: string }>`
      UPDATE outbox o SET published_at = NULL
      WHERE o.topic = 'order.paid'
        AND o.published_at < now() - make_interval(secs => ${Duration.toMillis(after) / 1000})
        AND NOT EXISTS (
          SELECT 1 FROM events e
          WHERE e.stream_id = 'order-' || o.key
            AND e.event_type IN ('OrderShipped', 'OrderCancelled', 'OrderDelivered'))
      RETURNING o.id`.pipe(Effect.map((rows) => rows.length))
  )

/** The redelivery pass, every 10 s (or `after`, if shorter), for as long as it runs. */
export const runRedelivery = Effect.gen(function* () {
  const after = yield* shippingRetryConfig
  const every = Duration.min(after, Duration.seconds(10))
  yield* redeliverUnanswered(after).pipe(
    Effect.tap((n) => (n > 0 ? Effect.logWarning(`outbox: ${n} unanswered order.paid published again`) : Effect.void)),
    Effect.ignore,
    Effect.repeat(Schedule.spaced(every))
  )
})
