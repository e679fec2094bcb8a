/**
 * The built-in stand-ins for the outside world (SPEC §2), on by default so
 * the embedded start shows the whole order flow: a payment provider (HTTP
 * routes for the server to mount) and a shipping service (a broker consumer).
 */
export * as PaymentProviderContract from "./PaymentProviderContract.ts"
export * as PaymentProviderSimulator from "./PaymentProviderSimulator.ts"
export * as ShippingEvents from "./ShippingEvents.ts"
export * as ShippingSimulator from "./ShippingSimulator.ts"
