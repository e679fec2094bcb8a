/** A payment for one order: created, settled by the provider or given up, refunded. */
export * from "./PaymentCommands.ts"
export * from "./PaymentDecider.ts"
export * from "./PaymentErrors.ts"
export * from "./PaymentEvents.ts"
export * from "./PaymentState.ts"
