/**
 * Durable payment deadlines (`PAYMENT_TIMEOUT`, default 60 s): a card payment
 * the provider has not answered by then is failed with reason `timeout`,
 * which the saga turns into a cancellation (`payment_timeout`). Deadlines are
 * rows of `payment_timers`, not `setTimeout`s, so a restart keeps them; a
 * scheduler fiber fires the due ones. Firing twice is harmless: failing a
 * failed payment records nothing, and a payment that succeeded in time
 * refuses to fail. A deadline's logs carry its order id as `correlation_id`.
 */
import { ActorRuntime } from "@agora/actors"
import { Payment } from "@agora/domain"
import { Spans } from "@agora/eventstore"
import { Config, DateTime, Duration, Effect, Schedule } from "effect"
import { SqlClient } from "effect/sql"

/** How long a card payment may stay unanswered. */
export const timeoutConfig = Config.Duration("PAYMENT_TIMEOUT").pipe(Config.withDefault(Duration.seconds(60)))

/** Creates the timers' table (idempotent; serialised across processes, which may start at once). */
export const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(
    Effect.gen(function* () {
      // Two `CREATE … IF NOT EXISTS` racing each other can both pass the check and one fail on the catalog.
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('agora_payment_timers'))`
      yield* sql`CREATE TABLE IF NOT EXISTS payment_timers (
        payment_id text PRIMARY KEY,
        order_id text NOT NULL,
        due_at timestamptz NOT NULL,
        fired_at timestamptz
      )`
      yield* sql`CREATE INDEX IF NOT EXISTS payment_timers_due ON payment_timers (due_at) WHERE fired_at IS NULL`
    })
  )
})

/** Sets the deadline of a payment (once: a repeat keeps the first). */
export const schedule = (paymentId: string, orderId: string, dueAt: DateTime.Utc) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO payment_timers (payment_id, order_id, due_at)
        VALUES (${paymentId}, ${orderId}, ${DateTime.toDateUtc(dueAt)})
        ON CONFLICT (payment_id) DO NOTHING`.pipe(Effect.asVoid)
  )

/** Fires every due deadline; returns how many. */
export const fireDue = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const actors = yield* ActorRuntime
  // Polled 4 times a second: untraced (a deadline fired is traced).
  const due = yield* sql<{ readonly payment_id: string; readonly order_id: string }>`
    SELECT payment_id, order_id FROM payment_timers
    WHERE fired_at IS NULL AND due_at <= now() ORDER BY due_at LIMIT 200`.pipe(Effect.withTracerEnabled(false))
  yield* Effect.forEach(
    due,
    (timer) =>
      Effect.gen(function* () {
        yield* Effect.logInfo(`payment timer: payment ${timer.payment_id} unanswered by its deadline; failing it`)
        const at = yield* DateTime.now
        yield* actors
          .send(
            Payment.Payment,
            timer.payment_id,
            new Payment.FailPayment({ paymentId: timer.payment_id, reason: "timeout", at }),
            { commandId: `timer/${timer.payment_id}`, correlationId: timer.order_id }
          )
          .pipe(
            // Answered in time (or never created): nothing to fail.
            Effect.catchTags({ PaymentAlreadySucceeded: () => Effect.void, PaymentNotFound: () => Effect.void })
          )
        yield* sql`UPDATE payment_timers SET fired_at = now() WHERE payment_id = ${timer.payment_id}`
      }).pipe(
        (fire) => Spans.traced(fire, "PaymentTimers.fire", { attributes: { correlation_id: timer.order_id } }),
        Effect.annotateLogs({ correlation_id: timer.order_id, payment_id: timer.payment_id })
      ),
    { concurrency: 16, discard: true }
  )
  return due.length
})

/** The scheduler's lease: one process at a time fires the deadlines. */
export const leaseName = "payment-timers"

/** The scheduler: checks for due deadlines every 250 ms for as long as it runs; failures are logged and retried. */
export const run = fireDue.pipe(
  Effect.tapCause((cause) => Effect.logWarning("payment timers: a pass failed; retrying", cause)),
  Effect.ignore,
  Effect.repeat(Schedule.spaced("250 millis")),
  Effect.asVoid
)
