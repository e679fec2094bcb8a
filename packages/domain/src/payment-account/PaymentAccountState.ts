/**
 * A wallet: its balance, running totals (so money conservation is checkable:
 * balance = toppedUp − debited + refunded) and the debit of each order (at
 * most one, refunded at most once). The ledger is not here: it is the
 * account's stream itself (each movement event carries its transaction id and
 * the balance after it), read page by page; kept in the state it would make
 * every movement cost as much as the account's whole history.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"

export const OrderDebit = Schema.Struct({
  txId: Schema.String,
  amount: Money,
  refunded: Schema.Boolean
})
export type OrderDebit = typeof OrderDebit.Type

export const NoAccount = Schema.TaggedStruct("NoAccount", {})

export const Account = Schema.TaggedStruct("Account", {
  userId: Schema.String,
  currency: Currency,
  balance: Money,
  toppedUp: Money,
  debited: Money,
  refunded: Money,
  debits: Schema.Record(Schema.String, OrderDebit),
  openedAt: Schema.DateTimeUtcFromString,
  updatedAt: Schema.DateTimeUtcFromString
})
export type Account = typeof Account.Type

export const PaymentAccountState = Schema.Union([NoAccount, Account]).pipe(Schema.toTaggedUnion("_tag"))
export type PaymentAccountState = typeof PaymentAccountState.Type

export const initialState: PaymentAccountState = { _tag: "NoAccount" }
