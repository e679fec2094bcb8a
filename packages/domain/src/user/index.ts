/** The user aggregate: registration with a normalised email and a password hash, and roles. */
export * from "./UserCommands.ts"
export * from "./UserDecider.ts"
export * from "./UserErrors.ts"
export * from "./UserEvents.ts"
export * from "./UserState.ts"
