/**
 * The PostgreSQL adapter of the event store and the snapshot store.
 *
 * Appends go through one group-commit writer (see internal/GroupCommit.ts):
 * concurrent appends to different streams share one transaction and one WAL
 * flush, and each caller gets its own success or conflict. The log order is
 * the commit order (ADR 0002), so subscriptions read `position > checkpoint`
 * and can never skip an event; LISTEN/NOTIFY wakes them, polling backs it up.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Duration, Effect, Layer, Option, Queue, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import {
  type AppendResult,
  DuplicateEventId,
  type EventMetadata,
  EventStore,
  EventStoreError,
  InvalidAppend,
  type RecordedEvent,
  type StreamAppend,
  type SubscribeOptions,
  streamTypeOf,
  WrongExpectedVersion
} from "./EventStore.ts"
import * as EventStoreMetrics from "./EventStoreMetrics.ts"
import * as ExpectedVersion from "./ExpectedVersion.ts"
import * as GroupCommit from "./internal/GroupCommit.ts"
import * as HeadSignal from "./internal/HeadSignal.ts"
import * as LogTail from "./internal/LogTail.ts"
import { migrate } from "./internal/migrations.ts"
import * as Subscription from "./internal/subscription.ts"
import { validateAppends } from "./internal/validate.ts"
import { SnapshotStore } from "./SnapshotStore.ts"
import * as Spans from "./Spans.ts"

export interface Options {
  /** How often a caught-up subscription polls when no NOTIFY arrives (default 1 second). */
  readonly pollInterval?: Duration.Input
  /** Events of the log's recent end kept in memory for this process's subscriptions (default 10,000; `LogTail`). */
  readonly logTailCapacity?: number
  /** Events at most per group-commit batch (default 2,000). */
  readonly maxBatchEvents?: number
  /** Group-commit batches in flight at once, each on its own connection (default 1; see ADR 0002). */
  readonly writers?: number
}

const notifyChannel = "eventstore_appended"

type Rejection = WrongExpectedVersion | DuplicateEventId
type UnitOutcome = { readonly ok: ReadonlyArray<AppendResult> } | { readonly rejected: Rejection }

interface AppendRow {
  readonly unit: number
  readonly stream_id: string
  readonly verdict: "ok" | "idempotent" | "conflict" | "duplicate_event_id" | "not_written"
  readonly actual_version: bigint
  readonly next_version: bigint | null
  readonly first_position: bigint | null
  readonly last_position: bigint | null
  readonly recorded_at: Date
}

interface EventRow {
  readonly position: bigint
  readonly stream_id: string
  readonly stream_type: string
  readonly version: bigint
  readonly event_id: string
  readonly event_type: string
  readonly data: unknown
  readonly metadata: EventMetadata
  readonly recorded_at: Date
}

/** An append, encoded once in the caller's fiber: one JSON object per stream, without its unit index. */
interface EncodedUnit {
  readonly appends: ReadonlyArray<StreamAppend>
  readonly streams: ReadonlyArray<string>
  readonly slices: ReadonlyArray<string>
  /** Per append, per event: its data and metadata as the JSON text stored. */
  readonly json: ReadonlyArray<ReadonlyArray<{ readonly data: string; readonly metadata: string }>>
  readonly eventCount: number
}

const encode = (appends: ReadonlyArray<StreamAppend>): Effect.Effect<EncodedUnit, InvalidAppend> =>
  Effect.flatMap(validateAppends(appends), () =>
    Effect.try({
      try: () => {
        let eventCount = 0
        const json = appends.map((a) =>
          a.events.map((e) => {
            const data = JSON.stringify(e.data)
            if (data === undefined) throw new Error(`event ${e.eventId} has no JSON data`)
            return { data, metadata: JSON.stringify(e.metadata ?? {}) }
          })
        )
        const slices = appends.map((a, i) => {
          const events = a.events.map((e, k) => {
            const { data, metadata } = json[i]![k]!
            return `{"id":"${e.eventId}","t":${JSON.stringify(e.type)},"d":${data},"m":${metadata}}`
          })
          eventCount += events.length
          return `"s":${JSON.stringify(a.streamId)},"st":${JSON.stringify(streamTypeOf(a.streamId))},"x":${ExpectedVersion.toCode(a.expectedVersion)},"e":[${events.join(",")}]}`
        })
        return { appends, streams: appends.map((a) => a.streamId), slices, json, eventCount }
      },
      catch: (error) => new InvalidAppend({ reason: `events are not JSON: ${String(error)}` })
    })
  )

const toRecorded = (row: EventRow): RecordedEvent => ({
  position: Number(row.position),
  streamId: row.stream_id,
  streamType: row.stream_type,
  version: Number(row.version),
  eventId: row.event_id,
  type: row.event_type,
  data: row.data,
  metadata: row.metadata,
  recordedAt: row.recorded_at
})

const storeError = (operation: string) => (cause: SqlError) => new EventStoreError({ operation, cause })

/**
 * Runs the append function for the units of one batch, on the current connection (or transaction): each unit's
 * outcome, and the time the batch's events were recorded at (undefined when none was written).
 */
const runAppend = (sql: SqlClient.SqlClient, units: ReadonlyArray<EncodedUnit>) => {
  const parts: Array<string> = []
  units.forEach((unit, u) => {
    for (const slice of unit.slices) parts.push(`{"u":${u},${slice}`)
  })
  return sql<AppendRow>`SELECT * FROM eventstore_append(${`[${parts.join(",")}]`}::jsonb)`.pipe(
    Effect.map((rows) => {
      const byUnit = new Map<number, Map<string, AppendRow>>()
      for (const row of rows) {
        const slices = byUnit.get(row.unit) ?? new Map<string, AppendRow>()
        byUnit.set(row.unit, slices)
        slices.set(row.stream_id, row)
      }
      return {
        outcomes: units.map((unit, u): UnitOutcome => outcomeOf(unit, byUnit.get(u) ?? new Map())),
        recordedAt: rows[0]?.recorded_at
      }
    })
  )
}

/**
 * The events a committed batch wrote, as the log holds them, in position order: for this process's log tail.
 * Their data and metadata are parsed from the JSON text stored (equal values; an object's keys may come in
 * another order than PostgreSQL's jsonb gives them back in).
 */
const writtenEvents = (
  units: ReadonlyArray<EncodedUnit>,
  outcomes: ReadonlyArray<UnitOutcome>,
  recordedAt: Date
): Array<RecordedEvent> => {
  const events: Array<RecordedEvent> = []
  units.forEach((unit, u) => {
    const outcome = outcomes[u]
    if (outcome === undefined || !("ok" in outcome)) return
    outcome.ok.forEach((result, i) => {
      const append = unit.appends[i]
      if (result.replayed || append === undefined) return
      const first = result.nextExpectedVersion - append.events.length + 1
      append.events.forEach((event, k) => {
        const json = unit.json[i]![k]!
        events.push({
          position: result.firstPosition + k,
          streamId: append.streamId,
          streamType: streamTypeOf(append.streamId),
          version: first + k,
          eventId: event.eventId,
          type: event.type,
          data: JSON.parse(json.data),
          metadata: JSON.parse(json.metadata) as EventMetadata,
          recordedAt
        })
      })
    })
  })
  return events.sort((a, b) => a.position - b.position)
}

/** The lowest position a committed batch wrote (undefined: none). */
const firstWritten = (outcomes: ReadonlyArray<UnitOutcome>): number | undefined => {
  let first: number | undefined
  for (const outcome of outcomes) {
    if (!("ok" in outcome)) continue
    for (const result of outcome.ok) {
      if (!result.replayed && (first === undefined || result.firstPosition < first)) first = result.firstPosition
    }
  }
  return first
}

const outcomeOf = (unit: EncodedUnit, slices: Map<string, AppendRow>): UnitOutcome => {
  const rows = unit.appends.map((a) => {
    const row = slices.get(a.streamId)
    if (row === undefined) throw new Error(`append function returned no row for stream ${a.streamId}`)
    return { append: a, row }
  })
  // A unit is written whole or not at all: the first failing stream answers for it.
  for (const { append, row } of rows) {
    if (row.verdict === "conflict") {
      return {
        rejected: new WrongExpectedVersion({
          streamId: append.streamId,
          expected: ExpectedVersion.format(append.expectedVersion),
          actual: Number(row.actual_version)
        })
      }
    }
    if (row.verdict === "duplicate_event_id") return { rejected: new DuplicateEventId({ streamId: append.streamId }) }
  }
  return {
    ok: rows.map(({ append, row }) => ({
      streamId: append.streamId,
      nextExpectedVersion: Number(row.next_version),
      firstPosition: Number(row.first_position),
      lastPosition: Number(row.last_position),
      replayed: row.verdict === "idempotent"
    }))
  }
}

const settleOutcome = (outcome: UnitOutcome) =>
  "ok" in outcome ? Effect.succeed(outcome.ok) : Effect.fail(outcome.rejected)

/**
 * Appends inside the caller's current transaction (`sql.withTransaction`), so
 * that other writes (an outbox row, a checkpoint) commit or roll back with the
 * events. The transaction holds the append lock until it ends: keep it short.
 * The events are counted as appended here; should the caller roll back, the
 * counter runs ahead of the log by them.
 */
export const appendInTransaction = (appends: ReadonlyArray<StreamAppend>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const unit = yield* encode(appends)
    const {
      outcomes: [outcome]
    } = yield* runAppend(sql, [unit]).pipe(Effect.mapError(storeError("append")))
    const results = yield* settleOutcome(outcome!)
    yield* EventStoreMetrics.recordAppend(results)
    return results
  })

/** Builds both stores on the `PgClient` in context, after applying the migrations. */
export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const pg = yield* PgClient.PgClient
    const sql: SqlClient.SqlClient = pg
    yield* migrate.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.mapError(storeError("migrate")))
    yield* EventStoreMetrics.register

    const signal = HeadSignal.make()
    // Other processes' appends arrive as NOTIFY; a lost listener is re-opened,
    // and polling covers the time in between.
    yield* Effect.forkScoped(
      Effect.scoped(
        Effect.gen(function* () {
          const notifications = yield* pg.listen(notifyChannel)
          for (;;) {
            const note = yield* Queue.take(notifications)
            yield* signal.publish(Number(note.payload))
          }
        })
      ).pipe(Effect.retry(Schedule.spaced("1 second")), Effect.ignore)
    )

    const readAll = ({ after, limit }: { readonly after: number; readonly limit: number }) =>
      sql<EventRow>`SELECT * FROM events WHERE position > ${after} ORDER BY position LIMIT ${limit}`.pipe(
        Effect.map((rows) => rows.map(toRecorded)),
        Effect.mapError(storeError("readAll"))
      )

    const pollInterval = options.pollInterval ?? "1 second"
    // The subscriptions of this process follow the log a few events apart: they read its recent end from memory.
    const tail = LogTail.make(readAll, {
      capacity: options.logTailCapacity ?? 10_000,
      freshFor: Duration.toMillis(Duration.fromInputUnsafe(pollInterval)) / 2,
      head: signal.head
    })

    // A batch is committed when its statement returns (it runs outside any transaction): its events go to the
    // log tail at once when they follow on from what the tail holds, so the subscriptions this append wakes
    // read them without a query.
    const committer = yield* GroupCommit.make<EncodedUnit, UnitOutcome, EventStoreError>(
      (units) =>
        runAppend(sql, units).pipe(
          Effect.map(({ outcomes, recordedAt }) => {
            if (recordedAt !== undefined && firstWritten(outcomes) === tail.range().upTo + 1)
              tail.feed(writtenEvents(units, outcomes, recordedAt))
            return outcomes
          }),
          Effect.mapError(storeError("append"))
        ),
      {
        maxBatchEvents: options.maxBatchEvents ?? 2000,
        writers: options.writers ?? 1,
        onDefect: (defect) => new EventStoreError({ operation: "append", cause: defect })
      }
    )

    const appendMulti = (appends: ReadonlyArray<StreamAppend>) =>
      Spans.traced(
        Effect.gen(function* () {
          const unit = yield* encode(appends)
          const outcome = yield* committer.submit({ payload: unit, streams: unit.streams, eventCount: unit.eventCount })
          const results = yield* settleOutcome(outcome)
          yield* EventStoreMetrics.recordAppend(results)
          const last = results.reduce((max, r) => Math.max(max, r.lastPosition), 0)
          yield* signal.publish(last)
          return results
        }),
        "EventStore.append",
        { attributes: { "eventstore.streams": appends.length } }
      )

    const loadCheckpoint = (name: string) =>
      sql<{ position: bigint }>`SELECT position FROM subscription_checkpoints WHERE name = ${name}`.pipe(
        Effect.map((rows) => (rows[0] === undefined ? 0 : Number(rows[0].position))),
        Effect.mapError(storeError("loadCheckpoint"))
      )

    const saveCheckpoint = (name: string, position: number) =>
      sql`INSERT INTO subscription_checkpoints (name, position) VALUES (${name}, ${position})
          ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()`.pipe(
        Effect.asVoid,
        Effect.mapError(storeError("saveCheckpoint"))
      )

    const reader: Subscription.LogReader = {
      readAll: tail.read,
      loadCheckpoint,
      saveCheckpoint,
      signal,
      pollInterval
    }

    const eventStore = EventStore.of({
      append: (streamId, expectedVersion, events) =>
        Effect.map(appendMulti([{ streamId, expectedVersion, events }]), (results) => results[0]!),
      appendMulti,
      readStream: (streamId, { fromVersion = 1, maxCount } = {}) =>
        sql<EventRow>`SELECT * FROM events WHERE stream_id = ${streamId} AND version >= ${fromVersion}
                      ORDER BY version LIMIT ${maxCount ?? null}`.pipe(
          Effect.map((rows) => rows.map(toRecorded)),
          Effect.mapError(storeError("readStream"))
        ),
      streamVersion: (streamId) =>
        sql<{ version: bigint | null }>`SELECT max(version) AS version FROM events WHERE stream_id = ${streamId}`.pipe(
          Effect.map((rows) => Number(rows[0]?.version ?? 0)),
          Effect.mapError(storeError("streamVersion"))
        ),
      readAll,
      headPosition: sql<{ head: bigint | null }>`SELECT max(position) AS head FROM events`.pipe(
        Effect.map((rows) => Number(rows[0]?.head ?? 0)),
        Effect.mapError(storeError("headPosition"))
      ),
      subscribe: (subscribeOptions) => Subscription.subscribe(reader, subscribeOptions),
      loadCheckpoint,
      saveCheckpoint,
      consume: <E, R>(
        subscribeOptions: SubscribeOptions,
        handle: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void, E, R>
      ) =>
        Subscription.consume<E, R, EventStoreError>(reader, subscribeOptions, handle, (effect) =>
          sql
            .withTransaction(effect)
            .pipe(Effect.mapError((error) => (isSqlError(error) ? storeError("consume")(error) : error)))
        ),
      follow: (subscribeOptions, handle) => Subscription.follow(reader, subscribeOptions, handle),
      ping: sql`SELECT 1`.pipe(Effect.asVoid, Effect.mapError(storeError("ping")))
    })

    const snapshotStore = SnapshotStore.of({
      save: ({ streamId, version, schemaVersion, data }) =>
        sql`INSERT INTO snapshots (stream_id, version, schema_version, data)
            VALUES (${streamId}, ${version}, ${schemaVersion}, ${JSON.stringify(data)}::jsonb)
            ON CONFLICT (stream_id) DO UPDATE
              SET version = excluded.version, schema_version = excluded.schema_version,
                  data = excluded.data, saved_at = now()
              WHERE snapshots.version < excluded.version OR snapshots.schema_version <> excluded.schema_version`.pipe(
          Effect.asVoid,
          Effect.mapError(storeError("saveSnapshot"))
        ),
      load: (streamId) =>
        sql<{ version: bigint; schema_version: number; data: unknown }>`
          SELECT version, schema_version, data FROM snapshots WHERE stream_id = ${streamId}`.pipe(
          Effect.map((rows) =>
            Option.fromNullishOr(rows[0]).pipe(
              Option.map((row) => ({
                streamId,
                version: Number(row.version),
                schemaVersion: Number(row.schema_version),
                data: row.data
              }))
            )
          ),
          Effect.mapError(storeError("loadSnapshot"))
        )
    })

    return { eventStore, snapshotStore }
  })

/** The event store and snapshot store on the `PgClient` in context. */
export const layer = (
  options: Options = {}
): Layer.Layer<EventStore | SnapshotStore, EventStoreError, PgClient.PgClient> =>
  Layer.effectContext(
    Effect.map(make(options), ({ eventStore, snapshotStore }) =>
      Context.make(EventStore, eventStore).pipe(Context.add(SnapshotStore, snapshotStore))
    )
  )
