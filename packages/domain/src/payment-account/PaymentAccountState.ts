/**
 * A wallet: its balance, running totals (so money conservation is checkable:
 * balance = toppedUp − debited + refunded) and the debits of its latest orders
 * (at most one per order, refunded at most once). The ledger is not here: it
 * is the account's stream itself (each movement event carries its transaction
 * id and the balance after it), read page by page; kept in the state it would
 * make every movement cost as much as the account's whole history.
 *
 * For the same reason `debits` keeps the latest `debitWindow` debits, oldest
 * out: an account that orders all day must not carry every order it ever
 * placed in memory and in each snapshot. A repeated debit of an older order
 * is still recorded once (the saga sends it under a deterministic command id,
 * so the store refuses its events as duplicates). The cost: a refund of an
 * order whose debit is more than `debitWindow` debits old finds nothing to
 * refund. Refunds follow a cancellation while the order is in flight, seconds
 * to minutes after its debit, so it takes a thousand newer orders of the same
 * account in between.
 */
import { Schema } from "effect"
import { WindowOf, windowToRecord } from "../internal/Keyed.ts"
import { Currency, Money } from "../Money.ts"

export const OrderDebit = Schema.Struct({
  txId: Schema.String,
  amount: Money,
  refunded: Schema.Boolean
})
export type OrderDebit = typeof OrderDebit.Type

/** How many of its latest debits an account remembers. */
export const debitWindow = 1_000

export const NoAccount = Schema.TaggedStruct("NoAccount", {})

export const Account = Schema.TaggedStruct("Account", {
  userId: Schema.String,
  currency: Currency,
  balance: Money,
  toppedUp: Money,
  debited: Money,
  refunded: Money,
  debits: WindowOf(OrderDebit),
  openedAt: Schema.DateTimeUtcFromString,
  updatedAt: Schema.DateTimeUtcFromString
})
export type Account = typeof Account.Type

export const PaymentAccountState = Schema.Union([NoAccount, Account]).pipe(Schema.toTaggedUnion("_tag"))
export type PaymentAccountState = typeof PaymentAccountState.Type

export const initialState: PaymentAccountState = { _tag: "NoAccount" }

/** The debits remembered, order id → debit, oldest first (a copy, for readers and checks). */
export const debitsOf = (account: Account): Record<string, OrderDebit> => windowToRecord(account.debits)
