import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import * as Money from "../../src/Money.ts"
import {
  AccountDebited,
  AccountOpened,
  AccountToppedUp,
  DebitAccount,
  DebitRefunded,
  ledgerEntryOf,
  OpenAccount,
  PaymentAccount,
  type PaymentAccountCommand,
  type PaymentAccountEvent,
  type PaymentAccountState,
  RefundDebit,
  TopUpAccount
} from "../../src/payment-account/index.ts"
import { assertJsonRoundTrip, at } from "../Fixtures.ts"
import { arbitraryAt, checkAggregate, count, sequences } from "../Properties.ts"

const userId = "user-1"
// Small pools, so that repeated orders and reused transaction ids happen often.
const orderId = fc.constantFrom("o1", "o2", "o3", "o4", "constructor")
const txId = fc.integer({ min: 0, max: 12 }).map((n) => `tx-${n}`)
const topUpAmount = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 50_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -5, 100_000_000, 100_000_001) }
)
const debitAmount = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 30_000 }) }, fc.constant(0))

const open = arbitraryAt.map((at) => new OpenAccount({ userId, currency: "RUB", at }))
const command: fc.Arbitrary<PaymentAccountCommand> = fc.oneof(
  { weight: 1, arbitrary: open },
  {
    weight: 4,
    arbitrary: fc
      .record({ txId, amount: topUpAmount, at: arbitraryAt })
      .map(({ amount, ...c }) => new TopUpAccount({ userId, amount: Money.make(amount), ...c }))
  },
  {
    weight: 5,
    arbitrary: fc
      .record({ txId, orderId, amount: debitAmount, at: arbitraryAt })
      .map(({ amount, ...c }) => new DebitAccount({ userId, amount: Money.make(amount), ...c }))
  },
  { weight: 3, arbitrary: fc.record({ txId, orderId, at: arbitraryAt }).map((c) => new RefundDebit({ userId, ...c })) }
)

const total = (events: ReadonlyArray<PaymentAccountEvent>, tag: PaymentAccountEvent["_tag"]) =>
  events.reduce((n, e) => (e._tag === tag && "amount" in e ? n + e.amount : n), 0)

const invariant = (state: PaymentAccountState, events: ReadonlyArray<PaymentAccountEvent>) => {
  if (state._tag !== "Account") return assert.fail("money events without an account")
  // Never negative; conserved: balance = Σ top-ups − Σ debits + Σ refunds.
  assert.isAtLeast(state.balance, 0)
  const [toppedUp, debited, refunded] = [
    total(events, "AccountToppedUp"),
    total(events, "AccountDebited"),
    total(events, "DebitRefunded")
  ]
  assert.strictEqual(state.balance, toppedUp - debited + refunded)
  assert.deepStrictEqual([state.toppedUp, state.debited, state.refunded], [toppedUp, debited, refunded])
  const last = events.at(-1)
  if (last !== undefined && last._tag !== "AccountOpened") {
    assert.strictEqual(last.balanceAfter, state.balance)
    assert.strictEqual(ledgerEntryOf(last)?.balanceAfter, state.balance)
    assert.isAbove(last.amount, 0)
  }
  if (last?._tag === "AccountDebited") {
    // At most one debit per order.
    assert.strictEqual(
      count(events, (e) => e._tag === "AccountDebited" && e.orderId === last.orderId),
      1
    )
  }
  if (last?._tag === "DebitRefunded") {
    // At most one refund per debit, of exactly the debited amount.
    assert.strictEqual(
      count(events, (e) => e._tag === "DebitRefunded" && e.orderId === last.orderId),
      1
    )
    const debit = events.find((e) => e._tag === "AccountDebited" && e.orderId === last.orderId)
    assert.strictEqual(debit?._tag === "AccountDebited" ? debit.amount : undefined, last.amount)
  }
  // The ledger, read from the events, has one entry per movement, and its balances run without a gap.
  const ledger = events.flatMap((e) => ledgerEntryOf(e) ?? [])
  assert.strictEqual(ledger.length, events.length - 1)
  let running = 0
  for (const entry of ledger) {
    running += entry.kind === "debit" ? -entry.amount : entry.amount
    assert.strictEqual(entry.balanceAfter, running)
  }
}

describe("PaymentAccount properties", () => {
  it("conserves money, never goes negative, debits and refunds once per order, over any command sequence", () => {
    checkAggregate(
      PaymentAccount,
      fc.tuple(open, sequences(command)).map(([first, rest]) => [first, ...rest]),
      // A top-up is idempotent by its command id (the event store), not by the decider: see its header.
      { invariant, idempotent: (c) => c._tag !== "OpenAccount" && c._tag !== "TopUpAccount" }
    )
  })

  it("round-trips every event and every state through JSON", () => {
    const events = [
      new AccountOpened({ userId, currency: "RUB", at: at(0) }),
      new AccountToppedUp({ userId, txId: "t1", amount: Money.make(900), balanceAfter: Money.make(900), at: at(1) }),
      new AccountDebited({
        userId,
        txId: "t2",
        orderId: "o1",
        amount: Money.make(400),
        balanceAfter: Money.make(500),
        at: at(2)
      }),
      new DebitRefunded({
        userId,
        txId: "t3",
        orderId: "o1",
        amount: Money.make(400),
        balanceAfter: Money.make(900),
        at: at(3)
      })
    ]
    let state = PaymentAccount.initialState
    assertJsonRoundTrip(PaymentAccount.stateSchema, state)
    for (const event of events) {
      assertJsonRoundTrip(PaymentAccount.eventSchema, event)
      state = PaymentAccount.evolve(state, event)
      assertJsonRoundTrip(PaymentAccount.stateSchema, state)
    }
  })
})
