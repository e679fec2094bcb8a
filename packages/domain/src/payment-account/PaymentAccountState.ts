/**
 * A wallet: its balance, running totals (so money conservation is checkable:
 * balance = toppedUp − debited + refunded), the debit of each order (at most
 * one, refunded at most once) and the ledger, newest last.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"

export const LedgerEntryKind = Schema.Literals(["top_up", "debit", "refund"])
export type LedgerEntryKind = typeof LedgerEntryKind.Type

export const LedgerEntry = Schema.Struct({
  id: Schema.String,
  kind: LedgerEntryKind,
  amount: Money,
  orderId: Schema.NullOr(Schema.String),
  balanceAfter: Money,
  at: Schema.DateTimeUtcFromString
})
export type LedgerEntry = typeof LedgerEntry.Type

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
  ledger: Schema.Array(LedgerEntry),
  openedAt: Schema.DateTimeUtcFromString,
  updatedAt: Schema.DateTimeUtcFromString
})
export type Account = typeof Account.Type

export const PaymentAccountState = Schema.Union([NoAccount, Account]).pipe(Schema.toTaggedUnion("_tag"))
export type PaymentAccountState = typeof PaymentAccountState.Type

export const initialState: PaymentAccountState = { _tag: "NoAccount" }
