/**
 * Idempotency keys with Stripe's semantics (SPEC §6), kept in PostgreSQL so
 * that every node sees them and they survive restarts.
 *
 * A key is scoped by subject (a user, or an anonymous caller) and route
 * template, and bound to the hash of the first request that used it. The
 * first request to `begin` owns the key through a lease; a second one with
 * the same request gets the stored response once the first `complete`s, 409
 * (`InFlight`) before that, and 422 (`Mismatch`) if its request differs.
 *
 * Every decision to take a key is one `INSERT … ON CONFLICT DO UPDATE … WHERE`
 * statement, so of any number of concurrent requests exactly one is
 * `Started`. A process that dies while holding a key leaves a lease that runs
 * out (`locked_until`): the same request may then take the key over. Each
 * lease has an id, so a slow former owner can no longer complete or abandon a
 * key that has been taken over.
 *
 * Which responses to store is the caller's choice; Stripe's rule: store what
 * the endpoint produced once it started executing (2xx and 4xx), `abandon` on
 * 5xx or an unknown outcome, so that the client's retry runs again.
 */
import { createHash, randomUUID } from "node:crypto"
import { Clock, Config, ConfigProvider, Context, Duration, Effect, Layer, Schedule, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"

/** Who is asking (`user:<id>`, or e.g. `anon:<ip>`) and where (`POST /api/orders/:id/cancel`). */
export interface IdempotencyScope {
  readonly subject: string
  readonly route: string
}

/** An `Idempotency-Key` header value: 1 to 255 printable ASCII characters (anything else is a 400). */
export const IdempotencyKey = Schema.String.pipe(
  Schema.check(Schema.isMinLength(1), Schema.isMaxLength(255), Schema.isPattern(/^[\x20-\x7e]+$/)),
  Schema.brand("IdempotencyKey")
)
export type IdempotencyKey = typeof IdempotencyKey.Type

/** What a request's answer looked like, to be replayed byte for byte. */
export interface StoredResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** The caller owns the key now: run the request, then `complete` or `abandon` with this lease. */
export class Started extends Schema.TaggedClass<Started>()("Started", {
  scope: Schema.Struct({ subject: Schema.String, route: Schema.String }),
  key: Schema.String,
  leaseId: Schema.String
}) {}

/** The same request completed before: answer with its response (and `Idempotent-Replayed: true`). */
export class Replay extends Schema.TaggedClass<Replay>()("Replay", {
  status: Schema.Number,
  headers: Schema.Record(Schema.String, Schema.String),
  body: Schema.String
}) {}

/** Another request holds the key and has not finished (409). */
export class InFlight extends Schema.TaggedClass<InFlight>()("InFlight", {}) {}

/** The key was used for a different request (422). */
export class Mismatch extends Schema.TaggedClass<Mismatch>()("Mismatch", {}) {}

export type BeginOutcome = Started | Replay | InFlight | Mismatch

/** The key is not 1 to 255 printable ASCII characters. */
export class InvalidIdempotencyKey extends Schema.TaggedError<InvalidIdempotencyKey>()("InvalidIdempotencyKey", {}) {}

/** The lease ran out and another request took the key over; this response is not stored. */
export class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", {
  key: Schema.String
}) {}

/** PostgreSQL could not be reached or failed. */
export class IdempotencyStoreError extends Schema.TaggedError<IdempotencyStoreError>()("IdempotencyStoreError", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message() {
    return `idempotency store ${this.operation} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/**
 * The hash that binds a key to its request: the concrete path (the scope holds
 * only the route template) and the body.
 */
export const requestHash = (request: { readonly path: string; readonly body: string | Uint8Array }): string =>
  createHash("sha256").update(request.path).update("\n").update(request.body).digest("base64url")

/**
 * `IDEMPOTENCY_KEY_LEASE` (default 60 seconds): how long a request that was
 * started under a key holds it; a retry after its process died waits this
 * long, at most, before it takes the key over.
 */
export const idempotencyKeyLeaseConfig = Config.Duration("IDEMPOTENCY_KEY_LEASE").pipe(
  Config.withDefault(Duration.seconds(60)),
  Config.mapEffect((lease) =>
    Duration.toMillis(lease) >= 1_000
      ? Effect.succeed(lease)
      : Effect.fail(
          new Config.ConfigError(
            new ConfigProvider.SourceError({ message: "IDEMPOTENCY_KEY_LEASE must be at least 1 second" })
          )
        )
  )
)

export interface IdempotencyStoreOptions {
  /** How long a `Started` request owns its key before a retry may take it over (default 60 seconds). */
  readonly lease?: Duration.Input
  /** How long a key is kept (default and minimum 24 hours). */
  readonly retention?: Duration.Input
  /** How often expired keys are deleted in the background (default hourly; `"never"`: only `purgeExpired`). */
  readonly purgeEvery?: Duration.Input | "never"
}

const migrations: ReadonlyArray<{ readonly id: number; readonly name: string; readonly statements: Array<string> }> = [
  {
    id: 1,
    name: "idempotency_keys",
    statements: [
      `CREATE TABLE IF NOT EXISTS idempotency_keys (
        subject text NOT NULL,
        route text NOT NULL,
        key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
        request_hash text NOT NULL,
        lease_id uuid,
        locked_until timestamptz,
        response_status int,
        response_headers jsonb,
        response_body text,
        created_at timestamptz NOT NULL,
        completed_at timestamptz,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (subject, route, key),
        CONSTRAINT idempotency_keys_state CHECK (
          (completed_at IS NULL AND lease_id IS NOT NULL AND locked_until IS NOT NULL)
          OR (completed_at IS NOT NULL AND lease_id IS NULL AND response_status IS NOT NULL)
        )
      )`,
      `CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at ON idempotency_keys (expires_at)`
    ]
  }
]

const migrate = (sql: SqlClient.SqlClient) =>
  sql.withTransaction(
    Effect.gen(function* () {
      // Serialises nodes that start at once; released at commit.
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('idempotency_migrations'))`
      yield* sql`CREATE TABLE IF NOT EXISTS idempotency_migrations (
        id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
      const applied = yield* sql<{ id: number }>`SELECT id FROM idempotency_migrations`
      const done = new Set(applied.map((row) => Number(row.id)))
      for (const migration of migrations) {
        if (done.has(migration.id)) continue
        for (const statement of migration.statements) yield* sql.unsafe(statement)
        yield* sql`INSERT INTO idempotency_migrations (id, name) VALUES (${migration.id}, ${migration.name})`
      }
    })
  )

interface ExistingRow {
  readonly request_hash: string
  readonly completed: boolean
  readonly locked: boolean
  readonly expired: boolean
  readonly response_status: number | null
  readonly response_headers: unknown
  readonly response_body: string | null
}

const isKey = Schema.is(IdempotencyKey)
const iso = (millis: number) => new Date(millis).toISOString()
const minRetention = Duration.hours(24)
// A row that changes between the upsert and the read that explains it (it
// expired, was abandoned or purged) sends `begin` round again; more than a
// few rounds means heavy contention on one key, and 409 is a fair answer.
const maxRounds = 5
const purgeBatch = 5_000

const make = (options: IdempotencyStoreOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const fail = (operation: string) => (cause: SqlError) => new IdempotencyStoreError({ operation, cause })
    yield* migrate(sql).pipe(Effect.mapError(fail("migrate")))

    const leaseMillis = Duration.toMillis(options.lease ?? Duration.seconds(60))
    const retentionMillis = Math.max(
      Duration.toMillis(options.retention ?? minRetention),
      Duration.toMillis(minRetention)
    )

    const claim = (scope: IdempotencyScope, key: string, hash: string, leaseId: string, now: number) =>
      sql<{ lease_id: string }>`
        INSERT INTO idempotency_keys AS k
          (subject, route, key, request_hash, lease_id, locked_until, created_at, expires_at)
        VALUES (${scope.subject}, ${scope.route}, ${key}, ${hash}, ${leaseId}::uuid,
          ${iso(now + leaseMillis)}::timestamptz, ${iso(now)}::timestamptz, ${iso(now + retentionMillis)}::timestamptz)
        ON CONFLICT (subject, route, key) DO UPDATE SET
          request_hash = EXCLUDED.request_hash, lease_id = EXCLUDED.lease_id, locked_until = EXCLUDED.locked_until,
          created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, completed_at = NULL,
          response_status = NULL, response_headers = NULL, response_body = NULL
        -- Taken over: an expired key (any request), or the same request whose owner's lease ran out.
        WHERE k.expires_at <= EXCLUDED.created_at
          OR (k.completed_at IS NULL AND k.locked_until <= EXCLUDED.created_at AND k.request_hash = EXCLUDED.request_hash)
        RETURNING k.lease_id::text AS lease_id`

    const existing = (scope: IdempotencyScope, key: string, now: number) =>
      sql<ExistingRow>`
        SELECT request_hash, completed_at IS NOT NULL AS completed,
          locked_until > ${iso(now)}::timestamptz AS locked, expires_at <= ${iso(now)}::timestamptz AS expired,
          response_status, response_headers, response_body
        FROM idempotency_keys
        WHERE subject = ${scope.subject} AND route = ${scope.route} AND key = ${key}`

    const begin = Effect.fn("IdempotencyStore.begin")(function* (request: {
      readonly scope: IdempotencyScope
      readonly key: string
      readonly requestHash: string
    }) {
      const { scope, key } = request
      if (!isKey(key)) return yield* new InvalidIdempotencyKey()
      for (let round = 0; round < maxRounds; round++) {
        const now = yield* Clock.currentTimeMillis
        const leaseId = randomUUID()
        const claimed = yield* claim(scope, key, request.requestHash, leaseId, now).pipe(Effect.mapError(fail("begin")))
        if (claimed[0]?.lease_id === leaseId) {
          return new Started({ scope: { subject: scope.subject, route: scope.route }, key, leaseId })
        }
        const [row] = yield* existing(scope, key, now).pipe(Effect.mapError(fail("begin")))
        if (row === undefined || row.expired) continue
        if (row.request_hash !== request.requestHash) return new Mismatch()
        if (row.completed) {
          return new Replay({
            status: Number(row.response_status),
            headers: (row.response_headers ?? {}) as Record<string, string>,
            body: row.response_body ?? ""
          })
        }
        if (row.locked) return new InFlight()
      }
      return new InFlight()
    })

    const complete = Effect.fn("IdempotencyStore.complete")(function* (request: {
      readonly scope: IdempotencyScope
      readonly key: string
      readonly leaseId: string
      readonly response: StoredResponse
    }) {
      const { scope, key, response } = request
      const now = yield* Clock.currentTimeMillis
      const updated = yield* sql`
        UPDATE idempotency_keys SET
          response_status = ${response.status}, response_headers = ${JSON.stringify(response.headers)}::jsonb,
          response_body = ${response.body}, completed_at = ${iso(now)}::timestamptz, lease_id = NULL, locked_until = NULL
        WHERE subject = ${scope.subject} AND route = ${scope.route} AND key = ${key}
          AND lease_id = ${request.leaseId}::uuid
        RETURNING 1`.pipe(Effect.mapError(fail("complete")))
      if (updated.length === 0) return yield* new LeaseLost({ key })
    })

    const abandon = Effect.fn("IdempotencyStore.abandon")(function* (request: {
      readonly scope: IdempotencyScope
      readonly key: string
      readonly leaseId: string
    }) {
      const { scope, key } = request
      // Only while this lease still holds the key: a key taken over belongs to someone else now.
      yield* sql`
        DELETE FROM idempotency_keys
        WHERE subject = ${scope.subject} AND route = ${scope.route} AND key = ${key}
          AND lease_id = ${request.leaseId}::uuid`.pipe(Effect.mapError(fail("abandon")))
    })

    const purgeExpired = Effect.gen(function* () {
      const now = iso(yield* Clock.currentTimeMillis)
      let purged = 0
      // In batches, so a large backlog never holds many row locks in one statement.
      for (;;) {
        const rows = yield* sql`
          DELETE FROM idempotency_keys WHERE ctid IN (
            SELECT ctid FROM idempotency_keys WHERE expires_at <= ${now}::timestamptz LIMIT ${purgeBatch})
          RETURNING 1`.pipe(Effect.mapError(fail("purge")))
        purged += rows.length
        if (rows.length < purgeBatch) return purged
      }
    }).pipe(Effect.withSpan("IdempotencyStore.purgeExpired"))

    const purgeEvery = options.purgeEvery ?? Duration.hours(1)
    if (purgeEvery !== "never") {
      yield* Effect.forkScoped(
        purgeExpired.pipe(
          Effect.catch((error) => Effect.logWarning("IdempotencyStore: purge failed", error)),
          Effect.repeat(Schedule.spaced(purgeEvery)),
          Effect.delay(purgeEvery)
        )
      )
    }

    return IdempotencyStore.of({ begin, complete, abandon, purgeExpired })
  })

/** Idempotency keys and the responses they replay. */
export class IdempotencyStore extends Context.Service<
  IdempotencyStore,
  {
    /** Takes the key for this request, or says why not: replay, in flight, or a different request. */
    readonly begin: (request: {
      readonly scope: IdempotencyScope
      readonly key: string
      readonly requestHash: string
    }) => Effect.Effect<BeginOutcome, InvalidIdempotencyKey | IdempotencyStoreError>
    /** Stores the response of a `Started` request, to be replayed for the key's lifetime. */
    readonly complete: (request: {
      readonly scope: IdempotencyScope
      readonly key: string
      readonly leaseId: string
      readonly response: StoredResponse
    }) => Effect.Effect<void, LeaseLost | IdempotencyStoreError>
    /** Releases a `Started` key without a response (5xx, unknown outcome): the client's retry starts afresh. */
    readonly abandon: (request: {
      readonly scope: IdempotencyScope
      readonly key: string
      readonly leaseId: string
    }) => Effect.Effect<void, IdempotencyStoreError>
    /** Deletes expired keys; returns how many. */
    readonly purgeExpired: Effect.Effect<number, IdempotencyStoreError>
  }
>()("@agora/edge/IdempotencyStore") {
  /** On the `SqlClient` in context (PostgreSQL); creates its table on first use. */
  static readonly layer = (
    options: IdempotencyStoreOptions = {}
  ): Layer.Layer<IdempotencyStore, IdempotencyStoreError, SqlClient.SqlClient> =>
    Layer.effect(IdempotencyStore, make(options))
}
