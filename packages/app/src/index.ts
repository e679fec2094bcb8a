export * as Accounts from "./Accounts.ts"
export * as Users from "./Users.ts"
