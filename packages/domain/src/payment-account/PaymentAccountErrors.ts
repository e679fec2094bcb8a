/** Why a wallet command was refused. */
import { Schema } from "effect"
import { Money } from "../Money.ts"

export class AccountAlreadyOpen extends Schema.TaggedError<AccountAlreadyOpen>()("AccountAlreadyOpen", {
  userId: Schema.String
}) {
  override get message() {
    return `user ${this.userId} already has an account`
  }
}

export class AccountNotFound extends Schema.TaggedError<AccountNotFound>()("AccountNotFound", {
  userId: Schema.String
}) {
  override get message() {
    return `user ${this.userId} has no account`
  }
}

/** Top-ups are 0 < amount ≤ 1,000,000.00; debits are positive; a balance stays below 2^53 minor units. */
export class InvalidAmount extends Schema.TaggedError<InvalidAmount>()("InvalidAmount", {
  userId: Schema.String,
  amount: Money,
  reason: Schema.String
}) {
  override get message() {
    return `invalid amount ${this.amount}: ${this.reason}`
  }
}

export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  userId: Schema.String,
  orderId: Schema.String,
  balance: Money,
  requested: Money
}) {
  override get message() {
    return `balance ${this.balance} is below the ${this.requested} requested for order ${this.orderId}`
  }
}

/** The order was never debited from this account. */
export class NothingToRefund extends Schema.TaggedError<NothingToRefund>()("NothingToRefund", {
  userId: Schema.String,
  orderId: Schema.String
}) {
  override get message() {
    return `order ${this.orderId} has no debit to refund`
  }
}

/** Every refusal of this aggregate, as one codec (its commands' errors cross the wire between nodes). */
export const PaymentAccountError = Schema.Union([
  AccountAlreadyOpen,
  AccountNotFound,
  InvalidAmount,
  InsufficientFunds,
  NothingToRefund
])
export type PaymentAccountError = typeof PaymentAccountError.Type
