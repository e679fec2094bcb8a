/** The email claim aggregate: one stream per normalised address, so an address belongs to one user. */
export * from "./EmailClaimCommands.ts"
export * from "./EmailClaimDecider.ts"
export * from "./EmailClaimErrors.ts"
export * from "./EmailClaimEvents.ts"
export * from "./EmailClaimState.ts"
