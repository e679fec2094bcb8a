import { assert, describe, it } from "@effect/vitest"
import * as Money from "../src/Money.ts"
import {
  AccountDebited,
  AccountOpened,
  AccountToppedUp,
  DebitAccount,
  InvalidAmount,
  OpenAccount,
  PaymentAccount,
  TopUpAccount
} from "../src/payment-account/index.ts"
import { DeciderSpec } from "./DeciderSpec.ts"
import { at } from "./Fixtures.ts"

// The helper must fail loudly on every kind of mismatch, or the decider tests prove nothing.
const userId = "user-1"
const opened = new AccountOpened({ userId, currency: "RUB", at: at(0) })
const topUp = new TopUpAccount({ userId, txId: "tx-1", amount: Money.make(500), at: at(1) })
const toppedUp = new AccountToppedUp({
  userId,
  txId: "tx-1",
  amount: Money.make(500),
  balanceAfter: Money.make(500),
  at: at(1)
})
const spec = DeciderSpec.for(PaymentAccount)

describe("DeciderSpec", () => {
  it("passes on the exact events and returns the state after them", () => {
    const state = spec.given([opened]).when(topUp).then([toppedUp])
    assert.deepInclude(state, { _tag: "Account", balance: Money.make(500) })
  })

  it("fails on other events, an error, or nothing instead of events", () => {
    assert.throws(() =>
      spec
        .given([opened])
        .when(topUp)
        .then([new AccountToppedUp({ ...toppedUp, at: at(2) })])
    )
    assert.throws(() => spec.given([]).when(topUp).then([toppedUp]))
    assert.throws(() => spec.given([opened, toppedUp]).when(topUp).then([toppedUp]))
  })

  it("fails on an error with another field, another class, or events instead of an error", () => {
    const zero = new TopUpAccount({ ...topUp, amount: Money.make(0) })
    const error = new InvalidAmount({ userId, amount: Money.make(0), reason: "a top-up must be positive" })
    spec.given([opened]).when(zero).thenFails(error)
    assert.throws(() =>
      spec
        .given([opened])
        .when(zero)
        .thenFails(new InvalidAmount({ ...error, reason: "other" }))
    )
    assert.throws(() =>
      spec
        .given([opened])
        .when(zero)
        .thenFails(new InvalidAmount({ ...error, userId: "user-2" }))
    )
    assert.throws(() => spec.given([opened]).when(topUp).thenFails(error))
  })

  it("fails on events or an error instead of nothing", () => {
    // An order is debited once: the same debit again records nothing.
    const debit = new DebitAccount({ userId, txId: "tx-2", orderId: "o1", amount: Money.make(100), at: at(2) })
    const { _tag, ...fields } = debit
    const debited = new AccountDebited({ ...fields, balanceAfter: Money.make(400) })
    spec.given([opened, toppedUp, debited]).when(debit).thenNothing()
    assert.throws(() => spec.given([opened]).when(topUp).thenNothing())
    assert.throws(() =>
      spec
        .given([opened])
        .when(new OpenAccount({ userId, currency: "RUB", at: at(1) }))
        .thenNothing()
    )
  })
})
