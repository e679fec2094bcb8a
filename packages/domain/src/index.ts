export * from "./Decider.ts"
