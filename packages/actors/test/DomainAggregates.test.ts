/**
 * The runtime hosting real domain aggregates on PostgreSQL: their events and
 * states (timestamps, branded money, ledgers) survive the trip through the
 * event store and the snapshot store.
 */

import { randomUUID } from "node:crypto"
import { EmailClaim, Money, normaliseEmail, PaymentAccount, User } from "@agora/domain"
import { EventStore, PgEventStore } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { DateTime, Effect, Layer } from "effect"
import { ActorRuntime, InProcessActorRuntime, part } from "../src/index.ts"

const at = DateTime.makeUnsafe("2026-11-23T12:00:00.000Z")

layer(
  InProcessActorRuntime.layer({ snapshotEvery: 3, idleTimeout: "100 millis" }).pipe(
    Layer.provide(PgEventStore.layer()),
    Layer.provide(TestDatabase.layer("domain-actors")),
    Layer.orDie
  ),
  { excludeTestServices: true }
)("domain aggregates in the runtime", (it) => {
  it.effect("a payment account keeps its balance and totals across passivation and snapshots", () =>
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
        assert.deepStrictEqual([state.toppedUp, state.debited], [12_600, 5_000].map(Money.make))
      }
    })
  )
})

layer(
  InProcessActorRuntime.layer().pipe(
    Layer.provideMerge(PgEventStore.layer()),
    Layer.provide(TestDatabase.layer("together")),
    Layer.orDie
  ),
  { excludeTestServices: true }
)("commands that span aggregates", (it) => {
  const register = (email: string) => {
    const userId = randomUUID()
    return Effect.gen(function* () {
      const actors = yield* ActorRuntime
      return yield* actors.sendTogether([
        part(EmailClaim.EmailClaim, normaliseEmail(email), new EmailClaim.ClaimEmail({ email, userId, at })),
        part(User.User, userId, new User.RegisterUser({ userId, email, passwordHash: "x", roles: ["customer"], at }))
      ])
    })
  }

  it.effect("20 concurrent registrations of one email: exactly one user exists afterwards", () =>
    Effect.gen(function* () {
      const email = `Someone.${randomUUID().slice(0, 8)}@Example.com`
      const outcomes = yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.result(register(email)), {
        concurrency: "unbounded"
      })
      const won = outcomes.filter((o) => o._tag === "Success")
      assert.strictEqual(won.length, 1)
      for (const o of outcomes) if (o._tag === "Failure") assert.strictEqual(o.failure._tag, "EmailTaken")
      const store = yield* EventStore
      const claim = yield* store.readStream(`email-${normaliseEmail(email)}`)
      assert.strictEqual(claim.length, 1)
      const userId = (claim[0]!.data as { userId: string }).userId
      assert.strictEqual(yield* store.streamVersion(`user-${userId}`), 1)
    })
  )

  it.effect("when one part is refused, no part is written", () =>
    Effect.gen(function* () {
      const actors = yield* ActorRuntime
      const store = yield* EventStore
      const email = `taken.${randomUUID().slice(0, 8)}@example.com`
      yield* register(email)
      const userId = randomUUID()
      const refused = yield* actors
        .sendTogether([
          part(User.User, userId, new User.RegisterUser({ userId, email, passwordHash: "x", roles: [], at })),
          part(EmailClaim.EmailClaim, normaliseEmail(email), new EmailClaim.ClaimEmail({ email, userId, at }))
        ])
        .pipe(Effect.flip)
      assert.strictEqual(refused._tag, "EmailTaken")
      assert.strictEqual(yield* store.streamVersion(`user-${userId}`), 0)
    })
  )

  it.effect("parts over the same instances in opposite orders do not deadlock", () =>
    Effect.gen(function* () {
      const actors = yield* ActorRuntime
      const [a, b] = [randomUUID(), randomUUID()]
      const open = (id: string) => new PaymentAccount.OpenAccount({ userId: id, currency: "RUB", at })
      yield* actors.sendTogether([
        part(PaymentAccount.PaymentAccount, a, open(a)),
        part(PaymentAccount.PaymentAccount, b, open(b))
      ])
      const topUp = (id: string) =>
        part(
          PaymentAccount.PaymentAccount,
          id,
          new PaymentAccount.TopUpAccount({ userId: id, txId: randomUUID(), amount: Money.make(100), at })
        )
      yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => actors.sendTogether(i % 2 === 0 ? [topUp(a), topUp(b)] : [topUp(b), topUp(a)]),
        { concurrency: "unbounded" }
      ).pipe(Effect.timeout("20 seconds"))
      for (const id of [a, b]) {
        const { state } = yield* actors.state(PaymentAccount.PaymentAccount, id)
        assert.strictEqual(state._tag === "Account" ? state.balance : -1, 4_000)
      }
    })
  )
})
