export * as Accounts from "./Accounts.ts"
export * as Catalog from "./Catalog.ts"
export * as CatalogProjection from "./CatalogProjection.ts"
export * as Users from "./Users.ts"
