/**
 * The catalog read model: one row per defined product (`catalog_products`:
 * sku, name, price in minor units, currency), kept by a projection that
 * follows the global event log under the subscription `catalog-products`.
 *
 * Each batch's rows are written inside the transaction that moves the
 * subscription's checkpoint (`EventStore.consume`), so every `ProductDefined`
 * is applied exactly once, crash or not. When the table is missing (first
 * start, or dropped to rebuild) it is created together with a checkpoint reset
 * to 0, in one transaction, so the projection replays the whole log into it.
 * Stock is not here: it changes with every order, and the inventory actors
 * hold it (see `Catalog.ts`).
 */
import { InventoryItem, type Money } from "@agora/domain"
import { EventStore, type EventStoreError, type RecordedEvent } from "@agora/eventstore"
import { Duration, Effect, Schedule, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"

/** The subscription's name, and the key of its checkpoint. */
export const subscriptionName = "catalog-products"

/** A product as the read model holds it. */
export interface ProductRow {
  readonly sku: string
  readonly name: string
  readonly price: Money.Money
  readonly currency: string
}

/** A stored `ProductDefined` could not be read: the event log holds something this code does not understand. */
export class UndecodableEvent extends Schema.TaggedError<UndecodableEvent>()("UndecodableEvent", {
  position: Schema.Number,
  cause: Schema.Defect()
}) {}

/**
 * Creates the table when it is missing, resetting the checkpoint in the same
 * transaction. Serialised across processes by an advisory lock.
 */
export const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const store = yield* EventStore
  yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('catalog_products'))`
      const [found] = yield* sql<{ exists: boolean }>`SELECT to_regclass('catalog_products') IS NOT NULL AS exists`
      if (found?.exists === true) return
      // "C" collation: the list order (and the keyset cursor) is bytewise, whatever the database's locale.
      yield* sql`CREATE TABLE catalog_products (
        sku text COLLATE "C" PRIMARY KEY,
        name text NOT NULL,
        price bigint NOT NULL,
        currency text NOT NULL
      )`
      yield* store.saveCheckpoint(subscriptionName, 0)
    })
  )
})

const decodeDefined = Schema.decodeUnknownEffect(InventoryItem.ProductDefined)

/** The events the table is made of (products defined); the checkpoint passes the rest without a transaction each. */
export const relevant = (event: RecordedEvent): boolean =>
  event.streamType === InventoryItem.InventoryItem.type && event.type === "ProductDefined"

/** Applies one batch of the log; runs inside the checkpoint's transaction. */
export const project = (events: ReadonlyArray<RecordedEvent>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // Keyed by SKU: one statement may not touch a row twice.
    const rows = new Map<string, { sku: string; name: string; price: number; currency: string }>()
    for (const event of events) {
      if (event.streamType !== InventoryItem.InventoryItem.type || event.type !== "ProductDefined") continue
      const defined = yield* decodeDefined({ ...(event.data as object), _tag: event.type }).pipe(
        Effect.mapError((cause) => new UndecodableEvent({ position: event.position, cause }))
      )
      rows.set(defined.sku, {
        sku: defined.sku,
        name: defined.name,
        price: defined.price,
        currency: defined.currency
      })
    }
    const [first, ...rest] = rows.values()
    if (first === undefined) return
    yield* sql`INSERT INTO catalog_products ${sql.insert([first, ...rest])}
               ON CONFLICT (sku) DO UPDATE
                 SET name = excluded.name, price = excluded.price, currency = excluded.currency`
  })

/** Follows the log into the table; never ends unless the store or the table fails. */
export const run: Effect.Effect<
  never,
  EventStoreError | SqlError | UndecodableEvent,
  EventStore | SqlClient.SqlClient
> = Effect.gen(function* () {
  const store = yield* EventStore
  yield* migrate
  return yield* store.consume({ name: subscriptionName, relevant }, project)
})

/** `run`, restarted after a failure (logged) with a growing pause of up to 30 seconds. */
export const runForever: Effect.Effect<never, never, EventStore | SqlClient.SqlClient> = run.pipe(
  Effect.tapCause((cause) => Effect.logError("catalog-products projection failed; restarting", cause)),
  // Any cause, defects too: effect's `withTransaction` ends in a defect, not a failure, when its ROLLBACK fails
  // on a connection the database dropped (a PostgreSQL restart), and `retry` alone would let that end the loop.
  Effect.sandbox,
  Effect.retry(Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced(Duration.seconds(30))])),
  Effect.orDie
)

/** The position of the last event the projection has applied (0 before the first). */
export const position = Effect.flatMap(EventStore, (store) => store.loadCheckpoint(subscriptionName))

interface StoredRow {
  readonly sku: string
  readonly name: string
  readonly price: bigint
  readonly currency: string
}

const toRow = (row: StoredRow): ProductRow => ({
  sku: row.sku,
  name: row.name,
  price: Number(row.price) as Money.Money,
  currency: row.currency
})

/** One product, if defined. */
export const find = (sku: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<StoredRow>`
      SELECT sku, name, price, currency FROM catalog_products WHERE sku = ${sku}`.pipe(
      Effect.map((rows) => (rows[0] === undefined ? undefined : toRow(rows[0])))
    )
  )

/** Products in SKU order, after `after` (exclusive) when given, at most `limit`. */
export const list = (options: { readonly after: string | undefined; readonly limit: number }) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<StoredRow>`
      SELECT sku, name, price, currency FROM catalog_products
      WHERE ${options.after === undefined ? sql`TRUE` : sql`sku > ${options.after}`}
      ORDER BY sku LIMIT ${options.limit}`.pipe(Effect.map((rows) => rows.map(toRow)))
  )
