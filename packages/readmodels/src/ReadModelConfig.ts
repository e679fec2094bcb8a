/**
 * Picks the read-model store from the environment: Redis when `REDIS_URL` is
 * set (keys under `READ_MODEL_PREFIX`, default `agora:rm:`), the in-process
 * store otherwise. The choice is logged at start. A Redis that is down at
 * start does not fail the layer: its commands fail with `ReadModelError`
 * until it is back, and readers fall back to the event store meanwhile.
 */
import { Config, Effect, Layer, Option, Redacted } from "effect"
import * as MemoryReadModelStore from "./MemoryReadModelStore.ts"
import type { ReadModelStore } from "./ReadModelStore.ts"
import * as RedisReadModelStore from "./RedisReadModelStore.ts"

/** `REDIS_URL`, when set and not empty. */
const redisUrl = Config.option(Config.Redacted("REDIS_URL")).pipe(
  Config.map(Option.filter((url) => Redacted.value(url).trim() !== ""))
)

/** `READ_MODEL_PREFIX` (default `agora:rm:`). */
export const prefix: Config.Config<string> = Config.String("READ_MODEL_PREFIX").pipe(Config.withDefault("agora:rm:"))

/** Where a Redis URL points, without its credentials (for the log). */
const hostOf = (url: string) => {
  const parsed = URL.parse(url)
  return parsed === null ? "an unparsable REDIS_URL" : parsed.host
}

/** The `ReadModelStore` the environment asks for, logged as it starts. */
export const layerFromConfig: Layer.Layer<ReadModelStore, Config.ConfigError> = Layer.unwrap(
  Effect.gen(function* () {
    const url = yield* redisUrl
    if (Option.isNone(url)) {
      yield* Effect.logInfo("ReadModelStore: in process (REDIS_URL is not set)")
      return MemoryReadModelStore.layer
    }
    const keyPrefix = yield* prefix
    const value = Redacted.value(url.value)
    yield* Effect.logInfo(`ReadModelStore: Redis at ${hostOf(value)}, keys under ${keyPrefix}`)
    return RedisReadModelStore.layerFromUrl(value, { prefix: keyPrefix })
  })
)
