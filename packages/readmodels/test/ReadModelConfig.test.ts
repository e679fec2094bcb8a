import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { ReadModelConfig, ReadModelStore, RedisReadModelStore } from "../src/index.ts"
import { put } from "./ReadModelStoreContract.ts"
import { deleteKeys, freshPrefix } from "./testing.ts"

const redisUrl = process.env.REDIS_URL

const withConfig = (config: Record<string, string>) =>
  Effect.provide(
    ReadModelConfig.layerFromConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(config))))
  )

/** Commits one document to generation 1 of `p` through whichever store the config chose. */
const writeOne = ReadModelStore.use((store) =>
  Effect.gen(function* () {
    const generation = yield* store.activeGeneration("p")
    yield* store.commit(
      { projection: "p", generation },
      { expectedCheckpoint: 0, checkpoint: 1, writes: [put("a", 1)], requireActive: true }
    )
    return yield* store.getDocs({ projection: "p" }, ["a"])
  })
)

describe("ReadModelConfig.layerFromConfig", () => {
  it.live("uses the in-process store when REDIS_URL is unset or empty", () =>
    Effect.gen(function* () {
      for (const config of [{}, { REDIS_URL: " " }]) {
        const prefix = freshPrefix()
        const docs = yield* writeOne.pipe(withConfig({ ...config, READ_MODEL_PREFIX: prefix }))
        assert.deepStrictEqual(docs, [{ version: 1, json: `{"v":1}` }])
        if (redisUrl !== undefined) {
          const redis = yield* RedisReadModelStore.acquireRedis(redisUrl)
          assert.deepStrictEqual(yield* Effect.promise(() => redis.keys(`${prefix}*`)), [])
        }
      }
    })
  )

  it.live.skipIf(redisUrl === undefined)("uses Redis under READ_MODEL_PREFIX when REDIS_URL is set", () =>
    Effect.gen(function* () {
      const prefix = freshPrefix()
      const redis = yield* RedisReadModelStore.acquireRedis(redisUrl!)
      yield* Effect.addFinalizer(() => deleteKeys(redis, prefix))
      yield* writeOne.pipe(withConfig({ REDIS_URL: redisUrl!, READ_MODEL_PREFIX: prefix }))
      assert.strictEqual(yield* Effect.promise(() => redis.get(`${prefix}p:g1:d:a`)), `1|{"v":1}`)
    })
  )

  it.live("starts with Redis down; its commands fail with ReadModelError", () =>
    Effect.gen(function* () {
      const error = yield* ReadModelStore.use((store) => store.ping).pipe(
        withConfig({ REDIS_URL: "redis://127.0.0.1:1" }),
        Effect.flip,
        Effect.timeout("5 seconds")
      )
      assert.deepInclude(error, { _tag: "ReadModelError", operation: "ping" })
    })
  )
})
