/** The order-fulfilment saga (SPEC §5): a decider over what happened, and the step it waits on. */
export * from "./FulfilmentCommands.ts"
export * from "./FulfilmentDecider.ts"
export * from "./FulfilmentErrors.ts"
export * from "./FulfilmentEvents.ts"
export * from "./FulfilmentState.ts"
