/** A shipment for a paid order: created, shipped with a tracking number, delivered, or cancelled by the shipping service. */
export * from "./ShipmentCommands.ts"
export * from "./ShipmentDecider.ts"
export * from "./ShipmentErrors.ts"
export * from "./ShipmentEvents.ts"
export * from "./ShipmentState.ts"
