/**
 * What happened to a user's wallet: the persisted contract of
 * `account-<userId>` streams. Each money movement carries its transaction id
 * (the ledger entry's id) and the balance after it, so the ledger read model
 * is a plain projection of these events.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"

export class AccountOpened extends Schema.TaggedClass<AccountOpened>()("AccountOpened", {
  userId: Schema.String,
  currency: Currency,
  at: Schema.DateTimeUtcFromString
}) {}

export class AccountToppedUp extends Schema.TaggedClass<AccountToppedUp>()("AccountToppedUp", {
  userId: Schema.String,
  txId: Schema.String,
  amount: Money,
  balanceAfter: Money,
  at: Schema.DateTimeUtcFromString
}) {}

export class AccountDebited extends Schema.TaggedClass<AccountDebited>()("AccountDebited", {
  userId: Schema.String,
  txId: Schema.String,
  orderId: Schema.String,
  amount: Money,
  balanceAfter: Money,
  at: Schema.DateTimeUtcFromString
}) {}

/** An order's debit was given back, whole. */
export class DebitRefunded extends Schema.TaggedClass<DebitRefunded>()("DebitRefunded", {
  userId: Schema.String,
  txId: Schema.String,
  orderId: Schema.String,
  amount: Money,
  balanceAfter: Money,
  at: Schema.DateTimeUtcFromString
}) {}

export const PaymentAccountEvent = Schema.Union([AccountOpened, AccountToppedUp, AccountDebited, DebitRefunded]).pipe(
  Schema.toTaggedUnion("_tag")
)
export type PaymentAccountEvent = typeof PaymentAccountEvent.Type
