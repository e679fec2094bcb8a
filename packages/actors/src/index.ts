export * as ActorMetrics from "./ActorMetrics.ts"
export * from "./ActorRuntime.ts"
export * as InProcessActorRuntime from "./InProcessActorRuntime.ts"
