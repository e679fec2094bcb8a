import { assert, describe, it } from "@effect/vitest"
import * as Money from "../../src/Money.ts"
import {
  AccountAlreadyOpen,
  AccountDebited,
  AccountNotFound,
  AccountOpened,
  AccountToppedUp,
  DebitAccount,
  DebitRefunded,
  debitsOf,
  debitWindow,
  InsufficientFunds,
  InvalidAmount,
  ledgerEntryOf,
  NothingToRefund,
  OpenAccount,
  PaymentAccount,
  RefundDebit,
  TopUpAccount
} from "../../src/payment-account/index.ts"
import { DeciderSpec } from "../DeciderSpec.ts"
import { at } from "../Fixtures.ts"

const userId = "0190b1a0-0000-7000-8000-000000000001"
const m = Money.make
const opened = new AccountOpened({ userId, currency: "RUB", at: at(0) })
const toppedUp = new AccountToppedUp({ userId, txId: "tx-1", amount: m(10000), balanceAfter: m(10000), at: at(1) })
const debited = new AccountDebited({
  userId,
  txId: "tx-2",
  orderId: "o1",
  amount: m(2550),
  balanceAfter: m(7450),
  at: at(2)
})
const refunded = new DebitRefunded({
  userId,
  txId: "tx-3",
  orderId: "o1",
  amount: m(2550),
  balanceAfter: m(10000),
  at: at(3)
})
const spec = DeciderSpec.for(PaymentAccount)
const topUp = (amount: number, txId = "tx-9") => new TopUpAccount({ userId, txId, amount: m(amount), at: at(5) })
const debit = (orderId: string, amount: number, txId = "tx-9") =>
  new DebitAccount({ userId, txId, orderId, amount: m(amount), at: at(5) })
const refund = (orderId: string, txId = "tx-9") => new RefundDebit({ userId, txId, orderId, at: at(5) })
const accountState = (state: typeof PaymentAccount.initialState) =>
  state._tag === "Account" ? state : assert.fail("no account")

describe("PaymentAccount", () => {
  describe("when not opened", () => {
    it("opens with a zero balance", () => {
      const state = accountState(spec.when(new OpenAccount({ userId, currency: "RUB", at: at(0) })).then([opened]))
      assert.deepStrictEqual([state.balance, state.currency, debitsOf(state)], [0, "RUB", {}])
    })

    it("refuses money movements", () => {
      const notFound = new AccountNotFound({ userId })
      spec.when(topUp(100)).thenFails(notFound)
      spec.when(debit("o1", 100)).thenFails(notFound)
      spec.when(refund("o1")).thenFails(notFound)
    })
  })

  describe("when open", () => {
    it("refuses to open again", () => {
      spec
        .given([opened])
        .when(new OpenAccount({ userId, currency: "RUB", at: at(1) }))
        .thenFails(new AccountAlreadyOpen({ userId }))
    })

    it("tops up; the event is the ledger entry", () => {
      const event = new AccountToppedUp({ userId, txId: "tx-1", amount: m(10000), balanceAfter: m(10000), at: at(5) })
      const state = accountState(spec.given([opened]).when(topUp(10000, "tx-1")).then([event]))
      assert.deepStrictEqual([state.balance, state.toppedUp], [m(10000), m(10000)])
      assert.deepStrictEqual(ledgerEntryOf(event), {
        id: "tx-1",
        kind: "top_up",
        amount: m(10000),
        orderId: null,
        balanceAfter: m(10000),
        at: at(5)
      })
    })

    it("accepts a top-up of exactly 1,000,000.00", () => {
      spec
        .given([opened])
        .when(topUp(100_000_000))
        .then([
          new AccountToppedUp({ userId, txId: "tx-9", amount: m(100_000_000), balanceAfter: m(100_000_000), at: at(5) })
        ])
    })

    it("refuses a top-up that is not positive or above 1,000,000.00", () => {
      spec
        .given([opened])
        .when(topUp(0))
        .thenFails(new InvalidAmount({ userId, amount: m(0), reason: "a top-up must be positive" }))
      spec
        .given([opened])
        .when(topUp(-100))
        .thenFails(new InvalidAmount({ userId, amount: m(-100), reason: "a top-up must be positive" }))
      spec
        .given([opened])
        .when(topUp(100_000_001))
        .thenFails(new InvalidAmount({ userId, amount: m(100_000_001), reason: "a top-up is at most 1000000.00" }))
    })

    it("tops up again under a transaction id seen before: retries are recognised by command id, not here", () => {
      spec
        .given([opened, toppedUp])
        .when(topUp(10000, "tx-1"))
        .then([new AccountToppedUp({ userId, txId: "tx-1", amount: m(10000), balanceAfter: m(20000), at: at(5) })])
    })

    it("debits an order", () => {
      spec
        .given([opened, toppedUp])
        .when(debit("o1", 2550, "tx-2"))
        .then([new AccountDebited({ ...debited, at: at(5) })])
    })

    it("debits the whole balance", () => {
      spec
        .given([opened, toppedUp])
        .when(debit("o1", 10000))
        .then([
          new AccountDebited({ userId, txId: "tx-9", orderId: "o1", amount: m(10000), balanceAfter: m(0), at: at(5) })
        ])
    })

    it("refuses a debit above the balance", () => {
      spec
        .given([opened, toppedUp])
        .when(debit("o1", 10001))
        .thenFails(new InsufficientFunds({ userId, orderId: "o1", balance: m(10000), requested: m(10001) }))
      spec
        .given([opened])
        .when(debit("o1", 1))
        .thenFails(new InsufficientFunds({ userId, orderId: "o1", balance: m(0), requested: m(1) }))
    })

    it("refuses a debit that is not positive", () => {
      spec
        .given([opened, toppedUp])
        .when(debit("o1", 0))
        .thenFails(new InvalidAmount({ userId, amount: m(0), reason: "a debit must be positive" }))
    })

    it("refuses to refund an order it never debited", () => {
      spec
        .given([opened, toppedUp])
        .when(refund("o1"))
        .thenFails(new NothingToRefund({ userId, orderId: "o1" }))
    })
  })

  describe("when an order was debited", () => {
    const history = [opened, toppedUp, debited]

    it("records nothing on a second debit for that order, whatever its amount or id", () => {
      spec
        .given(history)
        .when(debit("o1", 2550, "tx-2"))
        .thenNothing()
      spec
        .given(history)
        .when(debit("o1", 100, "tx-7"))
        .thenNothing()
    })

    it("debits another order", () => {
      spec
        .given(history)
        .when(debit("o2", 450))
        .then([
          new AccountDebited({ userId, txId: "tx-9", orderId: "o2", amount: m(450), balanceAfter: m(7000), at: at(5) })
        ])
    })

    it("refunds the debit whole", () => {
      const state = accountState(
        spec
          .given(history)
          .when(refund("o1", "tx-3"))
          .then([new DebitRefunded({ ...refunded, at: at(5) })])
      )
      assert.deepStrictEqual(
        [...history, refunded].flatMap((e) => {
          const entry = ledgerEntryOf(e)
          return entry === undefined ? [] : [[entry.kind, entry.amount, entry.orderId, entry.balanceAfter]]
        }),
        [
          ["top_up", 10000, null, 10000],
          ["debit", 2550, "o1", 7450],
          ["refund", 2550, "o1", 10000]
        ]
      )
      assert.deepStrictEqual([state.toppedUp, state.debited, state.refunded], [10000, 2550, 2550])
    })
  })

  describe("when an order's debit was refunded", () => {
    const history = [opened, toppedUp, debited, refunded]

    it("records nothing on a second refund", () => {
      spec.given(history).when(refund("o1", "tx-8")).thenNothing()
    })

    it("records nothing on a new debit for that order: an order is debited at most once", () => {
      spec
        .given(history)
        .when(debit("o1", 2550, "tx-8"))
        .thenNothing()
    })
  })
  describe("after more debits than it remembers", () => {
    const many = Array.from(
      { length: debitWindow },
      (_, i) =>
        new AccountDebited({
          userId,
          txId: `tx-l${i}`,
          orderId: `later-${i}`,
          amount: m(1),
          balanceAfter: m(10000 - 2550 - i - 1),
          at: at(3)
        })
    )
    const history = [opened, toppedUp, debited, ...many]

    it("keeps only the latest debits, so a busy account's state stops growing", () => {
      const state = accountState(
        spec
          .given(history)
          .when(topUp(1))
          .then([
            new AccountToppedUp({
              userId,
              txId: "tx-9",
              amount: m(1),
              balanceAfter: m(10000 - 2550 - debitWindow + 1),
              at: at(5)
            })
          ])
      )
      const orders = Object.keys(debitsOf(state))
      assert.deepStrictEqual(
        [orders.length, orders[0], orders.at(-1)],
        [debitWindow, "later-0", `later-${debitWindow - 1}`]
      )
      assert.deepStrictEqual([state.toppedUp, state.debited], [10001, 2550 + debitWindow])
    })

    it("refunds a remembered debit, and finds nothing to refund for one it forgot (the documented cost)", () => {
      spec
        .given(history)
        .when(refund(`later-${debitWindow - 1}`))
        .then([
          new DebitRefunded({
            userId,
            txId: "tx-9",
            orderId: `later-${debitWindow - 1}`,
            amount: m(1),
            balanceAfter: m(10000 - 2550 - debitWindow + 1),
            at: at(5)
          })
        ])
      spec
        .given(history)
        .when(refund("o1"))
        .thenFails(new NothingToRefund({ userId, orderId: "o1" }))
    })
  })
})
