/**
 * The event store's PostgreSQL schema, as ordered migrations applied at start
 * under an advisory lock (several nodes may start at once).
 *
 * Gap-free ordering (ADR 0002): every append takes the single row of
 * `event_log_head` FOR UPDATE before it inserts, and keeps that lock until its
 * transaction ends. PostgreSQL makes a transaction visible before it releases
 * its locks, so positions become visible strictly in position order and a
 * rolled-back append gives its positions back: the log is dense, and a reader
 * that has seen position p can never later find an event below p.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

interface Migration {
  readonly id: number
  readonly name: string
  readonly statements: ReadonlyArray<string>
}

const appendFunction = `
CREATE OR REPLACE FUNCTION eventstore_append(p_events jsonb)
RETURNS TABLE (unit int, stream_id text, verdict text, actual_version bigint, next_version bigint, first_position bigint, last_position bigint)
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
BEGIN
  -- The lock that orders the log. Taken in its own statement so that the
  -- statement below runs on a snapshot that already sees every earlier append.
  SELECT h.last_position INTO v_head FROM event_log_head h WHERE h.id = 1 FOR UPDATE;

  RETURN QUERY
  WITH input AS (
    SELECT r.*
    FROM ROWS FROM (jsonb_to_recordset(p_events) AS (u int, s text, st text, x bigint, id uuid, t text, d jsonb, m jsonb))
      WITH ORDINALITY AS r(u, s, st, x, id, t, d, m, ord)
  ),
  slices AS (
    SELECT i.u, i.s, min(i.x) AS x, count(*) AS n, array_agg(i.id) AS ids
    FROM input i GROUP BY i.u, i.s
  ),
  judged AS (
    SELECT sl.u, sl.s, sl.n, sl.x,
      coalesce((SELECT max(e.version) FROM events e WHERE e.stream_id = sl.s), 0) AS cur,
      dup.same, dup.other
    FROM slices sl
    -- Driven by the event id index alone, whatever the length of the stream.
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE e.stream_id = sl.s) AS same, count(*) FILTER (WHERE e.stream_id <> sl.s) AS other
      FROM events e WHERE e.event_id = ANY (sl.ids)
    ) dup
  ),
  verdicts AS (
    SELECT j.*,
      CASE
        WHEN j.other > 0 OR (j.same > 0 AND j.same < j.n) THEN 'duplicate_event_id'
        WHEN j.same = j.n THEN 'idempotent'
        WHEN j.x = -1 THEN 'ok'
        WHEN j.x = -2 AND j.cur = 0 THEN 'ok'
        WHEN j.x = -3 AND j.cur > 0 THEN 'ok'
        WHEN j.x >= 0 AND j.x = j.cur THEN 'ok'
        ELSE 'conflict'
      END AS verdict
    FROM judged j
  ),
  units AS (
    SELECT v.u, bool_and(v.verdict IN ('ok', 'idempotent')) AS accepted FROM verdicts v GROUP BY v.u
  ),
  rows AS (
    SELECT i.*, v.cur + row_number() OVER (PARTITION BY i.u, i.s ORDER BY i.ord) AS version,
      v_head + row_number() OVER (ORDER BY i.ord) AS position
    FROM input i
    JOIN verdicts v ON v.u = i.u AND v.s = i.s AND v.verdict = 'ok'
    JOIN units un ON un.u = i.u AND un.accepted
  ),
  inserted AS (
    INSERT INTO events (position, stream_id, stream_type, version, event_id, event_type, data, metadata)
    SELECT r.position, r.s, r.st, r.version, r.id, r.t, r.d, coalesce(r.m, '{}'::jsonb) FROM rows r
    ORDER BY r.position
    RETURNING events.position, events.stream_id, events.version
  ),
  written AS (
    SELECT ins.stream_id, max(ins.version) AS next_version, min(ins.position) AS first_position,
      max(ins.position) AS last_position
    FROM inserted ins GROUP BY ins.stream_id
  ),
  replayed AS (
    SELECT e.stream_id, max(e.version) AS next_version, min(e.position) AS first_position,
      max(e.position) AS last_position
    FROM verdicts v JOIN slices sl ON sl.u = v.u AND sl.s = v.s
    JOIN events e ON e.event_id = ANY (sl.ids) AND e.stream_id = v.s
    WHERE v.verdict = 'idempotent'
    GROUP BY e.stream_id
  ),
  bumped AS (
    UPDATE event_log_head h SET last_position = h.last_position + (SELECT count(*) FROM inserted)
    WHERE h.id = 1 AND EXISTS (SELECT 1 FROM inserted)
    RETURNING h.last_position
  )
  SELECT v.u, v.s, v.verdict, v.cur,
    coalesce(w.next_version, rp.next_version),
    coalesce(w.first_position, rp.first_position),
    coalesce(w.last_position, rp.last_position)
  FROM verdicts v
  LEFT JOIN written w ON w.stream_id = v.s AND v.verdict = 'ok'
  LEFT JOIN replayed rp ON rp.stream_id = v.s;

  SELECT h.last_position INTO v_new_head FROM event_log_head h WHERE h.id = 1;
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
      `CREATE TABLE IF NOT EXISTS event_log_head (
        id int PRIMARY KEY CHECK (id = 1),
        last_position bigint NOT NULL
      )`,
      `INSERT INTO event_log_head (id, last_position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
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
      )`,
      appendFunction
    ]
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
