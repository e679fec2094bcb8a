/**
 * The transactional outbox: the integration events of SPEC §4 are written to
 * `outbox` by a trigger on the event store's `events` table, so each one is
 * committed in the same transaction as the event that causes it — no event
 * without its message, no message without its event, whoever appended.
 *
 * | event (stream)                 | topic               |
 * | ------------------------------ | ------------------- |
 * | `OrderPlaced` (order)          | `order.created`     |
 * | `ShipmentCreated` (shipment)   | `order.paid`        |
 * | `OrderShipped` (order)         | `order.shipped`     |
 * | `OrderCancelled` (order)       | `order.cancelled`   |
 * | `PaymentSucceeded` (payment)   | `payment.succeeded` |
 * | `PaymentFailed` (payment)      | `payment.failed`    |
 *
 * `order.paid` is written when the saga creates the shipment, in the same
 * transaction that marks the order PAID. Each message carries `event_id` (the
 * causing event's id: a redelivery has the same one), `type`, `occurred_at`,
 * `order_id`, `producer: "agora"` (so Agora's own inbox can tell its messages
 * from the shipping service's on the shared topics) and money as decimal
 * strings. The relay (`OutboxRelay.ts`) publishes rows in `id` order.
 */
import { type Duration, Effect, Metric, Schedule } from "effect"
import { SqlClient } from "effect/sql"

const money = `
CREATE OR REPLACE FUNCTION agora_money(minor bigint) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(minor / 100.0, 'FM999999999999990.00') $$`

const capture = `
CREATE OR REPLACE FUNCTION agora_outbox_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d jsonb := NEW.data;
  topic text;
  body jsonb;
BEGIN
  CASE NEW.event_type
    WHEN 'OrderPlaced' THEN
      topic := 'order.created';
      body := jsonb_build_object(
        'user_id', d->>'userId',
        'items', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'sku', l->>'sku', 'name', l->>'name', 'quantity', (l->>'quantity')::int,
                    'unit_price', agora_money((l->>'unitPrice')::bigint))), '[]'::jsonb)
                  FROM jsonb_array_elements(d->'lines') AS l),
        'total', agora_money((d->>'total')::bigint),
        'currency', d->>'currency',
        'payment_method', d->>'paymentMethod');
    WHEN 'ShipmentCreated' THEN
      topic := 'order.paid';
      body := jsonb_build_object(
        'shipment_id', d->>'shipmentId',
        'items', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'item_id', (d->>'shipmentId') || '/' || (i->>'sku'), 'sku', i->>'sku',
                    'quantity', (i->>'quantity')::int)), '[]'::jsonb)
                  FROM jsonb_array_elements(d->'items') AS i),
        'idempotency_key', d->>'shipmentId');
    WHEN 'OrderShipped' THEN
      topic := 'order.shipped';
      body := jsonb_build_object(
        'shipment_id', d->>'shipmentId', 'tracking_number', d->>'trackingNumber', 'shipped_at', d->>'at');
    WHEN 'OrderCancelled' THEN
      topic := 'order.cancelled';
      body := jsonb_build_object('reason', d->>'reason');
    WHEN 'PaymentSucceeded' THEN
      topic := 'payment.succeeded';
      body := jsonb_build_object('payment_id', d->>'paymentId', 'amount', agora_money((d->>'amount')::bigint));
    WHEN 'PaymentFailed' THEN
      topic := 'payment.failed';
      body := jsonb_build_object(
        'payment_id', d->>'paymentId', 'reason', d->>'reason', 'error_message', d->'errorMessage');
    ELSE
      RETURN NULL;
  END CASE;
  INSERT INTO outbox (event_id, topic, key, payload)
  VALUES (NEW.event_id, topic, d->>'orderId', body || jsonb_build_object(
    'event_id', NEW.event_id, 'type', topic, 'occurred_at', d->>'at', 'order_id', d->>'orderId',
    'producer', 'agora'))
  ON CONFLICT (event_id) DO NOTHING;
  RETURN NULL;
END $$;
`

/** Creates the outbox table and its trigger (idempotent; serialised across processes). */
export const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('agora_outbox'))`
      // An append reads and writes `events`, then (its trigger) writes `outbox`. Run while the saga
      // already appends (a restart after a crash), this migration died of a deadlock when it locked
      // them the other way round: the index on `outbox` first, then `events` for the trigger's DDL.
      // So `events` is locked first, and fully (the DDL needs that anyway, and a weaker lock lets an
      // append's read through that then waits to write), and `outbox` is not locked at all once it
      // is in place (the relay's redelivery holds `outbox` while it reads `events`).
      yield* sql`LOCK TABLE events IN ACCESS EXCLUSIVE MODE`
      yield* sql`CREATE TABLE IF NOT EXISTS outbox (
        id bigserial PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        topic text NOT NULL,
        key text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      )`
      const [index] = yield* sql<{ readonly present: boolean }>`
        SELECT to_regclass('outbox_unpublished') IS NOT NULL AS present`
      if (index?.present !== true) {
        yield* sql`CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL`
      }
      yield* sql.unsafe(money)
      yield* sql.unsafe(capture)
      yield* sql`DROP TRIGGER IF EXISTS agora_outbox ON events`
      yield* sql`CREATE TRIGGER agora_outbox AFTER INSERT ON events FOR EACH ROW
        WHEN (NEW.event_type IN ('OrderPlaced', 'ShipmentCreated', 'OrderShipped', 'OrderCancelled',
                                 'PaymentSucceeded', 'PaymentFailed'))
        EXECUTE FUNCTION agora_outbox_capture()`
    })
  )
})

/** How many messages wait to be published (the backlog metric). */
export const backlog = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ readonly n: string | number }>`SELECT count(*) AS n FROM outbox WHERE published_at IS NULL`.pipe(
    Effect.map((rows) => Number(rows[0]?.n ?? 0))
  )
)

/** The backlog reporter's lease: one process at a time counts (each would count the same). */
export const backlogLeaseName = "gauge:agora_outbox_backlog"

export const backlogGauge = Metric.gauge("agora_outbox_backlog", {
  description: "Integration events in the outbox not yet published to the broker"
})

/**
 * Keeps `agora_outbox_backlog` current: counts the unsent messages (on the
 * partial index of unsent rows, so the count costs what the backlog is) every
 * `every`, for as long as it runs. A failed count leaves the last value; when
 * it stops (its lease gone to another process, which reports now) the gauge
 * reads 0 here, so that a sum over processes counts the backlog once.
 */
export const reportBacklog = (every: Duration.Input) =>
  backlog.pipe(
    Effect.flatMap((n) => Metric.update(backlogGauge, n)),
    Effect.ignore,
    Effect.repeat(Schedule.spaced(every)),
    Effect.asVoid,
    Effect.ensuring(Metric.update(backlogGauge, 0)),
    // A poll, not work to follow in traces.
    Effect.withTracerEnabled(false)
  )
