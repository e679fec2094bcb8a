/**
 * The outbox's schema is installed at every start, also while other
 * connections use the tables (a server restarted after a crash: its saga
 * resumes before the outbox migration runs; another node's relay). An
 * append reads and writes `events`, then writes `outbox` (its trigger); the
 * relay's redelivery updates `outbox` while it reads `events`. The migration
 * must wait for either instead of deadlocking with it, which killed the
 * starting server.
 */
import { PgEventStore } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, layer } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { Outbox } from "../../src/index.ts"

const Stack = PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer("outbox-migration")), Layer.orDie)

/**
 * Runs `first` in a transaction of its own, then the migration on another
 * connection, then (once the migration has taken whatever it takes before it
 * must wait) `then` in the first transaction; both must succeed.
 */
const migrateDuring = (first: ReadonlyArray<string>, then: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* Outbox.migrate
    const holding = yield* Deferred.make<void>()
    const proceed = yield* Deferred.make<void>()
    const other = yield* Effect.forkChild(
      sql.withTransaction(
        Effect.gen(function* () {
          for (const statement of first) yield* sql.unsafe(statement)
          yield* Deferred.succeed(holding, undefined)
          yield* Deferred.await(proceed)
          for (const statement of then) yield* sql.unsafe(statement)
        })
      )
    )
    yield* Deferred.await(holding)
    const migration = yield* Effect.forkChild(Outbox.migrate)
    yield* Effect.sleep("300 millis")
    yield* Deferred.succeed(proceed, undefined)
    const done = yield* Fiber.await(other)
    const migrated = yield* Fiber.await(migration)
    assert.isTrue(Exit.isSuccess(done), `the other transaction failed: ${Exit.isFailure(done) ? done.cause : ""}`)
    assert.isTrue(Exit.isSuccess(migrated), `the migration failed: ${Exit.isFailure(migrated) ? migrated.cause : ""}`)
  })

layer(Stack, { excludeTestServices: true, timeout: "60 seconds" })("outbox migration", (it) => {
  describe("run again while the tables are in use", () => {
    it.effect("waits for an append that holds events and is about to write the outbox", () =>
      migrateDuring(["LOCK TABLE events IN ROW EXCLUSIVE MODE"], ["LOCK TABLE outbox IN ROW EXCLUSIVE MODE"])
    )

    it.effect("waits for an append that has read events and is about to write them", () =>
      migrateDuring(
        ["SELECT count(*) FROM events"],
        ["LOCK TABLE events IN ROW EXCLUSIVE MODE", "LOCK TABLE outbox IN ROW EXCLUSIVE MODE"]
      )
    )

    it.effect("waits for a redelivery that holds the outbox and is about to read events", () =>
      migrateDuring(["LOCK TABLE outbox IN ROW EXCLUSIVE MODE"], ["SELECT count(*) FROM events"])
    )
  })
})
