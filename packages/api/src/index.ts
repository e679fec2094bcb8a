export * from "./Api.ts"
export * as ApiLive from "./ApiLive.ts"
export * from "./CurrentUser.ts"
export * from "./Problems.ts"
