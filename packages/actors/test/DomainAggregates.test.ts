/**
 * The runtime hosting real domain aggregates on PostgreSQL: their events and
 * states (timestamps, branded money, ledgers) survive the trip through the
 * event store and the snapshot store.
 */

import { randomUUID } from "node:crypto"
import { Money, PaymentAccount } from "@agora/domain"
import { PgEventStore } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { DateTime, Effect, Layer } from "effect"
import { ActorRuntime, InProcessActorRuntime } from "../src/index.ts"

const at = DateTime.makeUnsafe("2026-11-23T12:00:00.000Z")

layer(
  InProcessActorRuntime.layer({ snapshotEvery: 3, idleTimeout: "100 millis" }).pipe(
    Layer.provide(PgEventStore.layer()),
    Layer.provide(TestDatabase.layer("domain-actors")),
    Layer.orDie
  ),
  { excludeTestServices: true }
)("domain aggregates in the runtime", (it) => {
  it.effect("a payment account keeps its balance and ledger across passivation and snapshots", () =>
    Effect.gen(function* () {
      const actors = yield* ActorRuntime
      const userId = randomUUID()
      const send = (command: PaymentAccount.PaymentAccountCommand) =>
        actors.send(PaymentAccount.PaymentAccount, userId, command)
      yield* send(new PaymentAccount.OpenAccount({ userId, currency: "RUB", at }))
      for (const amount of [10_000, 2_550, 50]) {
        yield* send(new PaymentAccount.TopUpAccount({ userId, txId: randomUUID(), amount: Money.make(amount), at }))
      }
      const orderId = randomUUID()
      yield* send(
        new PaymentAccount.DebitAccount({ userId, txId: randomUUID(), orderId, amount: Money.make(5_000), at })
      )
      const refused = yield* send(
        new PaymentAccount.DebitAccount({
          userId,
          txId: randomUUID(),
          orderId: randomUUID(),
          amount: Money.make(1_000_000),
          at
        })
      ).pipe(Effect.flip)
      assert.strictEqual(refused._tag, "InsufficientFunds")
      const before = yield* actors.state(PaymentAccount.PaymentAccount, userId)
      yield* Effect.sleep("400 millis")
      assert.strictEqual(yield* actors.residentCount, 0)
      const after = yield* actors.state(PaymentAccount.PaymentAccount, userId)
      assert.deepStrictEqual(after, before)
      assert.strictEqual(after.version, 5)
      const state = after.state
      assert.strictEqual(state._tag, "Account")
      if (state._tag === "Account") {
        assert.strictEqual(state.balance, 7_600)
        assert.deepStrictEqual(
          state.ledger.map((entry) => entry.kind),
          ["top_up", "top_up", "top_up", "debit"]
        )
      }
    })
  )
})
