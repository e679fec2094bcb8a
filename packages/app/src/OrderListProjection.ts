/**
 * Which orders each user placed, newest first: the `user_orders` read model
 * (user id, order id, the global position of its `OrderPlaced`), kept by a
 * projection that follows the global event log under the subscription
 * `user-orders`. It holds only the index; an order's details come from its
 * actor (`Orders.ts`), so a list never shows a stale status.
 *
 * Each batch's rows are written inside the transaction that moves the
 * checkpoint (`EventStore.consume`): every `OrderPlaced` is indexed exactly
 * once, crash or not. A missing table is created together with a checkpoint
 * reset to 0, so the projection replays the log into it (first start, or a
 * dropped table).
 */
import { Order } from "@agora/domain"
import { EventStore, type EventStoreError, type RecordedEvent } from "@agora/eventstore"
import { Duration, Effect, Schedule, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"

/** The subscription's name, and the key of its checkpoint. */
export const subscriptionName = "user-orders"

/** A stored `OrderPlaced` could not be read. */
export class UndecodableOrderEvent extends Schema.TaggedError<UndecodableOrderEvent>()("UndecodableOrderEvent", {
  position: Schema.Number,
  cause: Schema.Defect()
}) {}

/** Creates the table when it is missing, resetting the checkpoint in the same transaction. */
export const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const store = yield* EventStore
  yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('user_orders'))`
      const [found] = yield* sql<{ exists: boolean }>`SELECT to_regclass('user_orders') IS NOT NULL AS exists`
      if (found?.exists === true) return
      yield* sql`CREATE TABLE user_orders (
        order_id text PRIMARY KEY,
        user_id text NOT NULL,
        position bigint NOT NULL
      )`
      yield* sql`CREATE INDEX user_orders_by_user ON user_orders (user_id, position DESC)`
      yield* store.saveCheckpoint(subscriptionName, 0)
    })
  )
})

const decodePlaced = Schema.decodeUnknownEffect(Order.OrderPlaced)

/** The events the table is made of (orders placed); the checkpoint passes the rest without a transaction each. */
export const relevant = (event: RecordedEvent): boolean =>
  event.streamType === Order.Order.type && event.type === "OrderPlaced"

/** Applies one batch of the log; runs inside the checkpoint's transaction. */
export const project = (events: ReadonlyArray<RecordedEvent>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows: Array<{ order_id: string; user_id: string; position: number }> = []
    for (const event of events) {
      if (event.streamType !== Order.Order.type || event.type !== "OrderPlaced") continue
      const placed = yield* decodePlaced({ ...(event.data as object), _tag: event.type }).pipe(
        Effect.mapError((cause) => new UndecodableOrderEvent({ position: event.position, cause }))
      )
      rows.push({ order_id: placed.orderId, user_id: placed.userId, position: event.position })
    }
    const [first, ...rest] = rows
    if (first === undefined) return
    // An order is placed once (its stream starts with it), so a row is never written twice but by a replay.
    yield* sql`INSERT INTO user_orders ${sql.insert([first, ...rest])} ON CONFLICT (order_id) DO NOTHING`
  })

/** Follows the log into the table; never ends unless the store or the table fails. */
export const run: Effect.Effect<
  never,
  EventStoreError | SqlError | UndecodableOrderEvent,
  EventStore | SqlClient.SqlClient
> = Effect.gen(function* () {
  const store = yield* EventStore
  yield* migrate
  return yield* store.consume({ name: subscriptionName, relevant }, project)
})

/** `run`, restarted after a failure (logged) with a growing pause of up to 30 seconds. */
export const runForever: Effect.Effect<never, never, EventStore | SqlClient.SqlClient> = run.pipe(
  Effect.tapCause((cause) => Effect.logError("user-orders projection failed; restarting", cause)),
  // Any cause, defects too: effect's `withTransaction` ends in a defect, not a failure, when its ROLLBACK fails
  // on a connection the database dropped (a PostgreSQL restart), and `retry` alone would let that end the loop.
  Effect.sandbox,
  Effect.retry(Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced(Duration.seconds(30))])),
  Effect.orDie
)

/** The position of the last event the projection has applied (0 before the first). */
export const position = Effect.flatMap(EventStore, (store) => store.loadCheckpoint(subscriptionName))

/** A user's order ids, newest first, placed before position `before` (exclusive) when given. */
export const list = (
  userId: string,
  options: { readonly before: number | undefined; readonly limit: number }
): Effect.Effect<
  ReadonlyArray<{ readonly orderId: string; readonly position: number }>,
  SqlError,
  SqlClient.SqlClient
> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly order_id: string; readonly position: bigint | string | number }>`
      SELECT order_id, position FROM user_orders
      WHERE user_id = ${userId}
        AND ${options.before === undefined ? sql`TRUE` : sql`position < ${options.before}`}
      ORDER BY position DESC LIMIT ${options.limit}`.pipe(
      Effect.map((rows) => rows.map((row) => ({ orderId: row.order_id, position: Number(row.position) })))
    )
  )
