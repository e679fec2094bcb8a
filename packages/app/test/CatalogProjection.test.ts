import { ActorRuntime, InProcessActorRuntime } from "@agora/actors"
import { InventoryItem, Money } from "@agora/domain"
import { EventStore, ExpectedVersion, PgEventStore, type RecordedEvent, Uuid } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { DateTime, Effect, Exit, Fiber, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { CatalogProjection } from "../src/index.ts"

const Stores = PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer("catalog_projection")))
const Stack = InProcessActorRuntime.layer().pipe(Layer.provideMerge(Stores), Layer.orDie)

const define = (sku: string, price = 1_000) =>
  Effect.gen(function* () {
    const actors = yield* ActorRuntime
    const at = yield* DateTime.now
    return yield* actors.send(
      InventoryItem.InventoryItem,
      sku,
      new InventoryItem.DefineProduct({
        sku,
        name: `Part ${sku}`,
        price: Money.make(price),
        currency: "RUB",
        initialStock: 5,
        at
      })
    )
  }).pipe(Effect.orDie)

/** Waits until the projection's checkpoint reaches the head of the log. */
const caughtUp = Effect.gen(function* () {
  const store = yield* EventStore
  const head = yield* store.headPosition
  while ((yield* store.loadCheckpoint(CatalogProjection.subscriptionName)) < head) yield* Effect.sleep("10 millis")
}).pipe(Effect.orDie, Effect.timeout("20 seconds"))

const rows = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ sku: string; name: string; price: bigint; currency: string }>`
    SELECT sku, name, price, currency FROM catalog_products ORDER BY sku`.pipe(
    Effect.map((all) => all.map((r) => ({ ...r, price: Number(r.price) }))),
    Effect.orDie
  )
)

/**
 * The projection's own handler, plus a record of every position it handled
 * in the same transaction: a primary key makes a second handling of any event
 * fail, and `poison` makes the batch holding that position fail after the
 * projection wrote its rows.
 */
const observedConsumer = (poison?: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const sql = yield* SqlClient.SqlClient
    yield* CatalogProjection.migrate
    return yield* store.consume({ name: CatalogProjection.subscriptionName, batchSize: 3 }, (events) =>
      Effect.gen(function* () {
        yield* CatalogProjection.project(events)
        for (const event of events) yield* sql`INSERT INTO handled (position) VALUES (${event.position})`
        if (poison !== undefined && events.some((e: RecordedEvent) => e.position === poison)) {
          return yield* Effect.fail("poisoned batch" as const)
        }
      })
    )
  })

layer(Stack, { excludeTestServices: true, timeout: "120 seconds" })("CatalogProjection", (it) => {
  it.effect("applies every event exactly once across a failed batch and two restarts", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore
      yield* sql`CREATE TABLE handled (position bigint PRIMARY KEY)`
      for (const sku of ["A-1", "A-2", "A-3", "A-4", "A-5"]) yield* define(sku)
      // An event of another aggregate, which the projection skips.
      yield* store.append(`other-${Uuid.v7()}`, ExpectedVersion.NoStream, [
        { eventId: Uuid.v7(), type: "SomethingElse", data: {} }
      ])

      // Positions 1..3 commit; the batch 4..6 fails after writing and is rolled back, checkpoint included.
      const failed = yield* Effect.exit(observedConsumer(4))
      assert.isTrue(Exit.isFailure(failed))
      assert.strictEqual(yield* store.loadCheckpoint(CatalogProjection.subscriptionName), 3)
      assert.deepStrictEqual(
        (yield* rows).map((r) => r.sku),
        ["A-1", "A-2", "A-3"]
      )

      const first = yield* Effect.forkChild(observedConsumer())
      yield* caughtUp
      yield* define("B-1")
      yield* define("B-2")
      yield* caughtUp
      yield* Fiber.interrupt(first)

      yield* define("C-1", 123_45)
      yield* define("A-1") // identical: records nothing
      const second = yield* Effect.forkChild(observedConsumer())
      yield* caughtUp
      yield* Fiber.interrupt(second)

      const head = yield* store.headPosition
      const handled = yield* sql<{ position: string }>`SELECT position FROM handled ORDER BY position`
      assert.deepStrictEqual(
        handled.map((r) => Number(r.position)),
        Array.from({ length: head }, (_, i) => i + 1)
      )
      const all = yield* rows
      assert.deepStrictEqual(
        all.map((r) => r.sku),
        ["A-1", "A-2", "A-3", "A-4", "A-5", "B-1", "B-2", "C-1"]
      )
      assert.deepStrictEqual(all.at(-1), { sku: "C-1", name: "Part C-1", price: 12345, currency: "RUB" })
    })
  )

  it.effect("a missing table is created with the checkpoint reset, and filled from the whole log", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore
      yield* define("D-1")
      const running = yield* Effect.forkChild(CatalogProjection.run)
      yield* caughtUp
      yield* Fiber.interrupt(running)
      const before = yield* rows
      assert.isTrue(before.some((r) => r.sku === "D-1"))

      yield* sql`DROP TABLE catalog_products`
      yield* CatalogProjection.migrate
      assert.strictEqual(yield* store.loadCheckpoint(CatalogProjection.subscriptionName), 0)
      assert.deepStrictEqual(yield* rows, [])
      // A second migrate leaves the table and the checkpoint alone.
      yield* store.saveCheckpoint(CatalogProjection.subscriptionName, 1)
      yield* CatalogProjection.migrate
      assert.strictEqual(yield* store.loadCheckpoint(CatalogProjection.subscriptionName), 1)
      yield* store.saveCheckpoint(CatalogProjection.subscriptionName, 0)

      const rebuilding = yield* Effect.forkChild(CatalogProjection.run)
      yield* caughtUp
      yield* Fiber.interrupt(rebuilding)
      assert.deepStrictEqual(yield* rows, before)
    })
  )
})
