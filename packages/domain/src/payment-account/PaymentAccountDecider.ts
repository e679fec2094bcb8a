/**
 * The wallet decider. The balance never goes below zero: a debit larger than
 * it is `InsufficientFunds`. An order is debited at most once and its debit
 * refunded at most once, so repeating a debit or a refund for the same order
 * records nothing. A top-up is not recognised by its `txId` here: a retried
 * top-up is sent with the same command id, so its events get the same ids and
 * the event store records them once (the actor runtime's idempotency), which
 * costs nothing per top-up, where a set of every `txId` ever seen would grow
 * with the account's history. Refunding an order that was never debited is
 * the typed error `NothingToRefund` rather than a silent no-op: the saga only
 * refunds what it debited, so it signals a bug upstream.
 */
import type { Aggregate } from "../Decider.ts"
import { accept, type Decision, ignore, reject } from "../Decision.ts"
import { emptyWindow, lookupIn, withLatest } from "../internal/Keyed.ts"
import * as Money from "../Money.ts"
import { PaymentAccountCommand } from "./PaymentAccountCommands.ts"
import {
  AccountAlreadyOpen,
  AccountNotFound,
  InsufficientFunds,
  InvalidAmount,
  NothingToRefund,
  PaymentAccountError
} from "./PaymentAccountErrors.ts"
import {
  AccountDebited,
  AccountOpened,
  AccountToppedUp,
  DebitRefunded,
  PaymentAccountEvent
} from "./PaymentAccountEvents.ts"
import { debitWindow, initialState, PaymentAccountState } from "./PaymentAccountState.ts"

/** The largest single top-up: 1,000,000.00. */
export const maxTopUp: Money.Money = Money.make(100_000_000)

export const decide = (
  command: PaymentAccountCommand,
  state: PaymentAccountState
): Decision<PaymentAccountEvent, PaymentAccountError> => {
  if (command._tag === "OpenAccount") {
    if (state._tag === "Account") return reject(new AccountAlreadyOpen({ userId: state.userId }))
    return accept(new AccountOpened({ userId: command.userId, currency: command.currency, at: command.at }))
  }
  if (state._tag === "NoAccount") return reject(new AccountNotFound({ userId: command.userId }))
  const { userId, balance } = state
  switch (command._tag) {
    case "TopUpAccount": {
      const { txId, amount, at } = command
      const invalid = (reason: string) => reject(new InvalidAmount({ userId, amount, reason }))
      if (!(amount > 0)) return invalid("a top-up must be positive")
      if (amount > maxTopUp) return invalid("a top-up is at most 1000000.00")
      const balanceAfter = Money.add(balance, amount)
      if (!Money.isSafe(balanceAfter)) return invalid("the balance would exceed its limit")
      return accept(new AccountToppedUp({ userId, txId, amount, balanceAfter, at }))
    }
    case "DebitAccount": {
      const { txId, orderId, amount, at } = command
      if (!(amount > 0)) return reject(new InvalidAmount({ userId, amount, reason: "a debit must be positive" }))
      if (lookupIn(state.debits, orderId) !== undefined) return ignore
      if (amount > balance) return reject(new InsufficientFunds({ userId, orderId, balance, requested: amount }))
      return accept(
        new AccountDebited({ userId, txId, orderId, amount, balanceAfter: Money.subtract(balance, amount), at })
      )
    }
    case "RefundDebit": {
      const { txId, orderId, at } = command
      const debit = lookupIn(state.debits, orderId)
      if (debit === undefined) return reject(new NothingToRefund({ userId, orderId }))
      if (debit.refunded) return ignore
      const amount = debit.amount
      const balanceAfter = Money.add(balance, amount)
      if (!Money.isSafe(balanceAfter)) {
        return reject(new InvalidAmount({ userId, amount, reason: "the balance would exceed its limit" }))
      }
      return accept(new DebitRefunded({ userId, txId, orderId, amount, balanceAfter, at }))
    }
  }
}

export const evolve = (state: PaymentAccountState, event: PaymentAccountEvent): PaymentAccountState => {
  if (event._tag === "AccountOpened") {
    if (state._tag === "Account") return state
    return {
      _tag: "Account",
      userId: event.userId,
      currency: event.currency,
      balance: Money.zero,
      toppedUp: Money.zero,
      debited: Money.zero,
      refunded: Money.zero,
      debits: emptyWindow(),
      openedAt: event.at,
      updatedAt: event.at
    }
  }
  if (state._tag === "NoAccount") return state
  switch (event._tag) {
    case "AccountToppedUp": {
      const balance = Money.add(state.balance, event.amount)
      return {
        ...state,
        balance,
        toppedUp: Money.add(state.toppedUp, event.amount),
        updatedAt: event.at
      }
    }
    case "AccountDebited": {
      const balance = Money.subtract(state.balance, event.amount)
      return {
        ...state,
        balance,
        debited: Money.add(state.debited, event.amount),
        debits: withLatest(
          state.debits,
          event.orderId,
          { txId: event.txId, amount: event.amount, refunded: false },
          debitWindow
        ),
        updatedAt: event.at
      }
    }
    case "DebitRefunded": {
      const balance = Money.add(state.balance, event.amount)
      const debit = lookupIn(state.debits, event.orderId)
      return {
        ...state,
        balance,
        refunded: Money.add(state.refunded, event.amount),
        debits:
          debit === undefined
            ? state.debits
            : withLatest(state.debits, event.orderId, { ...debit, refunded: true }, debitWindow),
        updatedAt: event.at
      }
    }
  }
}

/** The wallet aggregate: streams `account-<userId>`. */
export const PaymentAccount: Aggregate<
  PaymentAccountCommand,
  PaymentAccountEvent,
  PaymentAccountState,
  PaymentAccountError
> = {
  type: "account",
  initialState,
  decide,
  evolve,
  commandSchema: PaymentAccountCommand,
  errorSchema: PaymentAccountError,
  eventSchema: PaymentAccountEvent,
  stateSchema: PaymentAccountState,
  // 2: the ledger left the state.
  stateVersion: 2
}
