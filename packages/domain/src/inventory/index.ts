/** The stock of one SKU: product data, on hand, reservations per order, shipped. */
export * from "./InventoryCommands.ts"
export * from "./InventoryDecider.ts"
export * from "./InventoryErrors.ts"
export * from "./InventoryEvents.ts"
export * from "./InventoryState.ts"
