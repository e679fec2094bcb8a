/**
 * The ledger of a wallet: one entry per money movement, read straight from
 * the account's events (each carries its transaction id and the balance
 * after it), so it needs no state of its own.
 */
import { Schema } from "effect"
import { Money } from "../Money.ts"
import type { AccountDebited, AccountToppedUp, DebitRefunded, PaymentAccountEvent } from "./PaymentAccountEvents.ts"

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

const kinds = { AccountToppedUp: "top_up", AccountDebited: "debit", DebitRefunded: "refund" } as const

/** The entry an event writes, if it moves money. */
export const ledgerEntryOf = (event: PaymentAccountEvent): LedgerEntry | undefined => {
  if (event._tag === "AccountOpened") return undefined
  const movement: AccountToppedUp | AccountDebited | DebitRefunded = event
  return {
    id: movement.txId,
    kind: kinds[movement._tag],
    amount: movement.amount,
    orderId: movement._tag === "AccountToppedUp" ? null : movement.orderId,
    balanceAfter: movement.balanceAfter,
    at: movement.at
  }
}
