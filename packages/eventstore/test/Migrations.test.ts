import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { ExpectedVersion, PgEventStore } from "../src/index.ts"
import { newEvent, streamId } from "./EventStoreContract.ts"

layer(TestDatabase.layer("migrations"), { excludeTestServices: true })("event store migrations", (it) => {
  it.effect("upgrade a database left by the first schema (head table, old append function) and keep its events", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // The state migration 1 left behind before the advisory-lock version.
      yield* sql`CREATE TABLE eventstore_migrations (id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
      yield* sql`CREATE TABLE events (
        position bigint PRIMARY KEY, stream_id text NOT NULL, stream_type text NOT NULL, version bigint NOT NULL,
        event_id uuid NOT NULL UNIQUE, event_type text NOT NULL, data jsonb NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb, recorded_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT events_stream_version UNIQUE (stream_id, version), CONSTRAINT events_version_positive CHECK (version > 0))`
      yield* sql`CREATE TABLE event_log_head (id int PRIMARY KEY CHECK (id = 1), last_position bigint NOT NULL)`
      yield* sql`INSERT INTO event_log_head VALUES (1, 1)`
      yield* sql`CREATE TABLE snapshots (stream_id text PRIMARY KEY, version bigint NOT NULL, schema_version int NOT NULL, data jsonb NOT NULL, saved_at timestamptz NOT NULL DEFAULT now())`
      yield* sql`CREATE TABLE subscription_checkpoints (name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`
      yield* sql.unsafe(`CREATE FUNCTION eventstore_append(p_events jsonb)
        RETURNS TABLE (unit int, stream_id text, verdict text, actual_version bigint, next_version bigint, first_position bigint, last_position bigint)
        LANGUAGE sql AS $$ SELECT 0, ''::text, ''::text, 0::bigint, 0::bigint, 0::bigint, 0::bigint WHERE false $$`)
      yield* sql`INSERT INTO events (position, stream_id, stream_type, version, event_id, event_type, data)
        VALUES (1, 'order-old', 'order', 1, '0190a000-0000-7000-8000-000000000001', 'OrderPlaced', '{"old":true}')`
      yield* sql`INSERT INTO eventstore_migrations (id, name) VALUES (1, 'event_log')`

      const { eventStore } = yield* PgEventStore.make()
      const appended = yield* eventStore.append(streamId(), ExpectedVersion.NoStream, [newEvent("New")])
      assert.strictEqual(appended.firstPosition, 2)
      assert.deepStrictEqual((yield* eventStore.readStream("order-old"))[0]?.data, { old: true })
      const head = yield* sql<{ n: bigint }>`SELECT count(*) AS n FROM pg_tables WHERE tablename = 'event_log_head'`
      assert.strictEqual(Number(head[0]!.n), 0)
    })
  )
})
