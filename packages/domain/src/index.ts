/**
 * The domain: every aggregate as a pure decider (commands in, events or a
 * typed error out), money as integer minor units, and the contract the actor
 * runtime hosts. Each aggregate is a namespace: `Order.Order` is the
 * aggregate, `Order.PlaceOrder` a command, `Order.OrderPlaced` an event.
 */
export * from "./Decider.ts"
export * from "./Decision.ts"
export * from "./Email.ts"
export * as EmailClaim from "./email-claim/index.ts"
export * as Fulfilment from "./fulfilment/index.ts"
export * as InventoryItem from "./inventory/index.ts"
export * as Money from "./Money.ts"
export * as Order from "./order/index.ts"
export * as Payment from "./payment/index.ts"
export * as PaymentAccount from "./payment-account/index.ts"
export * as Shipment from "./shipment/index.ts"
export * as User from "./user/index.ts"
