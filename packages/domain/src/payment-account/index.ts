/** A user's wallet: opened, topped up, debited once per order, refunded once per debit; with its ledger. */
export * from "./PaymentAccountCommands.ts"
export * from "./PaymentAccountDecider.ts"
export * from "./PaymentAccountErrors.ts"
export * from "./PaymentAccountEvents.ts"
export * from "./PaymentAccountLedger.ts"
export * from "./PaymentAccountState.ts"
