/**
 * The event store's PostgreSQL schema, as ordered migrations applied at start
 * under an advisory lock (several nodes may start at once).
 *
 * Gap-free ordering (ADR 0002): every append takes one transaction-scoped
 * advisory lock, reads the last position, numbers its events after it, and
 * keeps the lock until its transaction ends. PostgreSQL makes a transaction
 * visible before it releases its locks, so positions become visible strictly
 * in position order and a rolled-back append gives its positions back: the log
 * is dense, and a reader that has seen position p can never later find an
 * event below p.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

interface Migration {
  readonly id: number
  readonly name: string
  readonly statements: ReadonlyArray<string>
}

/** Any append, from any process, holds this lock from its first statement until its transaction ends. */
const appendLock = 7346519283746512n

/**
 * Appends the slices of one batch. A slice is one stream's part of one unit
 * (an append call); a unit is written whole or not at all, and each slice gets
 * a verdict: ok, idempotent (all its event ids are in its stream already),
 * conflict (wrong expected version), duplicate_event_id, or not_written (its
 * unit failed elsewhere). Expected version codes: n ≥ 0 exact, -1 any, -2 no
 * stream, -3 stream exists. Every row carries the time the events were
 * recorded at (when the append took the log's lock).
 */
const appendFunction = `
CREATE OR REPLACE FUNCTION eventstore_append(p_slices jsonb)
RETURNS TABLE (unit int, stream_id text, verdict text, actual_version bigint, next_version bigint, first_position bigint, last_position bigint, recorded_at timestamptz)
LANGUAGE plpgsql
-- Every lookup here is by key. A plan cached while the log was small (a fresh
-- database) would otherwise keep scanning it sequentially as it grows, and
-- planning each call instead costs more than the append itself.
SET enable_seqscan = off
AS $fn$
#variable_conflict use_column
DECLARE
  v_head bigint;
  v_new_head bigint;
  v_recorded_at timestamptz;
BEGIN
  -- The lock that orders the log, taken in its own statement so that the
  -- statements below run on a snapshot that already sees every earlier append.
  PERFORM pg_advisory_xact_lock(${appendLock});
  -- When the events get their positions: not the transaction's start (now()), which may be long before it had
  -- the lock, so recorded_at follows position order and measures from when an event entered the log.
  v_recorded_at := clock_timestamp();
  SELECT coalesce(max(ev.position), 0) INTO v_head FROM events ev;

  RETURN QUERY
  WITH slices AS MATERIALIZED (
    SELECT sl.u, sl.s, sl.st, sl.x, sl.e, sl.ord, jsonb_array_length(sl.e) AS n,
      coalesce((SELECT max(ev.version) FROM events ev WHERE ev.stream_id = sl.s), 0) AS cur,
      dup.same, dup.other
    FROM ROWS FROM (jsonb_to_recordset(p_slices) AS (u int, s text, st text, x bigint, e jsonb))
      WITH ORDINALITY AS sl(u, s, st, x, e, ord)
    -- Driven by the event id index alone, whatever the length of the stream.
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE ev.stream_id = sl.s) AS same, count(*) FILTER (WHERE ev.stream_id <> sl.s) AS other
      FROM events ev
      WHERE ev.event_id = ANY (ARRAY(SELECT (el->>'id')::uuid FROM jsonb_array_elements(sl.e) el))
    ) dup
  ),
  judged AS (
    SELECT j.*, bool_and(j.verdict IN ('ok', 'idempotent')) OVER (PARTITION BY j.u) AS unit_ok
    FROM (
      SELECT s.*,
        CASE
          WHEN s.other > 0 OR (s.same > 0 AND s.same < s.n) THEN 'duplicate_event_id'
          WHEN s.same = s.n THEN 'idempotent'
          WHEN s.x = -1 THEN 'ok'
          WHEN s.x = -2 AND s.cur = 0 THEN 'ok'
          WHEN s.x = -3 AND s.cur > 0 THEN 'ok'
          WHEN s.x >= 0 AND s.x = s.cur THEN 'ok'
          ELSE 'conflict'
        END AS verdict
      FROM slices s
    ) j
  ),
  placed AS MATERIALIZED (
    SELECT j.u, j.s, j.st, j.e, j.n, j.cur,
      v_head + coalesce(sum(j.n) OVER (ORDER BY j.ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS base
    FROM judged j WHERE j.unit_ok AND j.verdict = 'ok'
  ),
  inserted AS (
    INSERT INTO events (position, stream_id, stream_type, version, event_id, event_type, data, metadata, recorded_at)
    SELECT p.base + el.k, p.s, p.st, p.cur + el.k, (el.v->>'id')::uuid, el.v->>'t', el.v->'d',
      coalesce(el.v->'m', '{}'::jsonb), v_recorded_at
    FROM placed p CROSS JOIN LATERAL jsonb_array_elements(p.e) WITH ORDINALITY AS el(v, k)
    RETURNING 1
  )
  SELECT j.u, j.s,
    CASE WHEN j.verdict = 'ok' AND NOT j.unit_ok THEN 'not_written' ELSE j.verdict END,
    j.cur,
    coalesce(p.cur + p.n, rp.next_version),
    coalesce(p.base + 1, rp.first_position),
    coalesce(p.base + p.n, rp.last_position),
    v_recorded_at
  FROM judged j
  LEFT JOIN placed p ON p.u = j.u AND p.s = j.s
  -- Only replayed slices look their events up: the verdict gates the scan.
  LEFT JOIN LATERAL (
    SELECT max(ev.version) AS next_version, min(ev.position) AS first_position, max(ev.position) AS last_position
    FROM events ev
    WHERE j.verdict = 'idempotent'
      AND ev.event_id = ANY (ARRAY(SELECT (el->>'id')::uuid FROM jsonb_array_elements(j.e) el))
      AND ev.stream_id = j.s
  ) rp ON true;

  SELECT coalesce(max(ev.position), 0) INTO v_new_head FROM events ev;
  IF v_new_head > v_head THEN
    PERFORM pg_notify('eventstore_appended', v_new_head::text);
  END IF;
END
$fn$`

const migrations: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: "event_log",
    statements: [
      `CREATE TABLE IF NOT EXISTS events (
        position bigint PRIMARY KEY,
        stream_id text NOT NULL,
        stream_type text NOT NULL,
        version bigint NOT NULL,
        event_id uuid NOT NULL UNIQUE,
        event_type text NOT NULL,
        data jsonb NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT events_stream_version UNIQUE (stream_id, version),
        CONSTRAINT events_version_positive CHECK (version > 0)
      )`,
      `CREATE TABLE IF NOT EXISTS snapshots (
        stream_id text PRIMARY KEY,
        version bigint NOT NULL,
        schema_version int NOT NULL,
        data jsonb NOT NULL,
        saved_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE IF NOT EXISTS subscription_checkpoints (
        name text PRIMARY KEY,
        position bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`
    ]
  },
  {
    // The first append function ordered appends with a row lock on a one-row
    // head table; an advisory lock orders them the same way without writing
    // that row (and its WAL) on every append.
    id: 2,
    name: "append_under_advisory_lock",
    // Dropped first: the earlier function's parameter had another name, which
    // CREATE OR REPLACE cannot change.
    statements: [
      `DROP FUNCTION IF EXISTS eventstore_append(jsonb)`,
      appendFunction,
      `DROP TABLE IF EXISTS event_log_head`
    ]
  },
  {
    // recorded_at was the append transaction's start (the column's default, now()): under load an append can
    // wait for the log's lock well after that, so a later position could carry an earlier time. It is now the
    // moment the append holds the lock, the same for every event of one call, and the function returns it (the
    // appender keeps its committed events for its process's subscriptions: `LogTail.feed`). Migration 2 above
    // installs the current text on a fresh database; this one replaces the earlier text on an existing one
    // (dropped first: its result columns change).
    id: 3,
    name: "recorded_at_when_positioned",
    statements: [`DROP FUNCTION IF EXISTS eventstore_append(jsonb)`, appendFunction]
  }
]

/** Applies the migrations that this database has not seen yet, one transaction each. */
export const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(
    Effect.gen(function* () {
      // Serialises concurrent starts; released at commit.
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('eventstore_migrations'))`
      yield* sql`CREATE TABLE IF NOT EXISTS eventstore_migrations (
        id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
      const applied = yield* sql<{ id: number }>`SELECT id FROM eventstore_migrations`
      const done = new Set(applied.map((row) => Number(row.id)))
      for (const migration of migrations) {
        if (done.has(migration.id)) continue
        for (const statement of migration.statements) yield* sql.unsafe(statement)
        yield* sql`INSERT INTO eventstore_migrations (id, name) VALUES (${migration.id}, ${migration.name})`
      }
    })
  )
})
