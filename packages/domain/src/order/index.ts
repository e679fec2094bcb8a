/** An order and its state machine: placed, reserved, paid, shipped, delivered, or cancelled with a reason. */
export * from "./OrderCommands.ts"
export * from "./OrderDecider.ts"
export * from "./OrderErrors.ts"
export * from "./OrderEvents.ts"
export * from "./OrderState.ts"
