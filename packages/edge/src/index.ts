export * from "./IdempotencyStore.ts"
export * from "./PasswordHasher.ts"
export * from "./RateLimiter.ts"
export * from "./TokenService.ts"
