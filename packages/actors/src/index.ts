export * as ActorMetrics from "./ActorMetrics.ts"
export * from "./ActorRuntime.ts"
export * as ClusterActorRuntime from "./ClusterActorRuntime.ts"
export * as InProcessActorRuntime from "./InProcessActorRuntime.ts"
