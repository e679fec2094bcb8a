/**
 * What can be asked of a wallet. `txId` (a UUID chosen by the caller) names
 * the ledger entry a command would create, which makes a retried command
 * recognisable.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"

export class OpenAccount extends Schema.TaggedClass<OpenAccount>()("OpenAccount", {
  userId: Schema.String,
  currency: Currency,
  at: Schema.DateTimeUtcFromString
}) {}

export class TopUpAccount extends Schema.TaggedClass<TopUpAccount>()("TopUpAccount", {
  userId: Schema.String,
  txId: Schema.String,
  amount: Money,
  at: Schema.DateTimeUtcFromString
}) {}

export class DebitAccount extends Schema.TaggedClass<DebitAccount>()("DebitAccount", {
  userId: Schema.String,
  txId: Schema.String,
  orderId: Schema.String,
  amount: Money,
  at: Schema.DateTimeUtcFromString
}) {}

/** Give back the debit of one order. */
export class RefundDebit extends Schema.TaggedClass<RefundDebit>()("RefundDebit", {
  userId: Schema.String,
  txId: Schema.String,
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export const PaymentAccountCommand = Schema.Union([OpenAccount, TopUpAccount, DebitAccount, RefundDebit]).pipe(
  Schema.toTaggedUnion("_tag")
)
export type PaymentAccountCommand = typeof PaymentAccountCommand.Type
