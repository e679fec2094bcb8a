/**
 * Rate limiting: one token bucket per subject (`user:<id>`, or `ip:<addr>`
 * when anonymous). A bucket holds up to `capacity` tokens, refills
 * continuously at `refillPerSecond`, and each request takes one.
 *
 * Two adapters with one behaviour (the same contract tests run on both): in
 * process, for a single node and the embedded start; and Redis, where one Lua
 * script refills and takes atomically so that every node shares the buckets.
 * Both refill lazily from the time of the last take, and both forget a bucket
 * once it would be full again, since a full bucket and no bucket are the same.
 *
 * The Redis adapter sends one take per subject at a time: the takes of a
 * subject that arrive while its script runs wait for it, then go together as
 * one script that takes up to as many tokens (a hot subject costs Redis one
 * call per round trip, not one per request). Each gets the decision it would
 * have had alone, in arrival order: the first ones the tokens there were,
 * with the remaining count going down, the rest a 429.
 *
 * The Redis adapter fails open: when Redis is down or slow (over 250 ms) the
 * request is allowed and a warning logged (once per 10 s). Rate limiting
 * protects capacity; it must not turn a cache outage into an API outage
 * (SPEC §8: Redis down → degraded service, not 5xx).
 */
import { createHash } from "node:crypto"
import { Clock, Config, ConfigProvider, Context, Effect, Layer, Redacted, Schema } from "effect"
import { Redis } from "ioredis"

/** The request may proceed; `resetSeconds` is the time until the bucket is full again. */
export class Allowed extends Schema.TaggedClass<Allowed>()("Allowed", {
  remaining: Schema.Number,
  limit: Schema.Number,
  resetSeconds: Schema.Number
}) {}

/** The bucket is empty: answer 429 with `Retry-After: retryAfterSeconds`. */
export class Limited extends Schema.TaggedClass<Limited>()("Limited", {
  retryAfterSeconds: Schema.Number,
  limit: Schema.Number
}) {}

export type RateLimitDecision = Allowed | Limited

export interface RateLimitSettings {
  /** Tokens a bucket holds: the largest burst. */
  readonly capacity: number
  /** Tokens added per second: the sustained rate. */
  readonly refillPerSecond: number
}

/** `RATE_LIMIT_CAPACITY` (100), `RATE_LIMIT_REFILL_PER_SECOND` (20), `RATE_LIMIT_ENABLED` (true). */
export const rateLimitConfig = Config.all({
  capacity: Config.Int("RATE_LIMIT_CAPACITY").pipe(Config.withDefault(100)),
  refillPerSecond: Config.Number("RATE_LIMIT_REFILL_PER_SECOND").pipe(Config.withDefault(20)),
  enabled: Config.Boolean("RATE_LIMIT_ENABLED").pipe(Config.withDefault(true))
}).pipe(
  Config.mapEffect((settings) =>
    settings.capacity >= 1 && settings.refillPerSecond > 0 && Number.isFinite(settings.refillPerSecond)
      ? Effect.succeed(settings)
      : Effect.fail(
          new Config.ConfigError(
            new ConfigProvider.SourceError({
              message: "RATE_LIMIT_CAPACITY must be ≥ 1 and RATE_LIMIT_REFILL_PER_SECOND > 0"
            })
          )
        )
  )
)

/** The decision, from the tokens left after the take (`taken`) or found short of one. */
const decide = (settings: RateLimitSettings, tokens: number, taken: boolean): RateLimitDecision =>
  taken
    ? new Allowed({
        remaining: Math.floor(tokens),
        limit: settings.capacity,
        resetSeconds: Math.ceil((settings.capacity - tokens) / settings.refillPerSecond)
      })
    : new Limited({
        retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / settings.refillPerSecond)),
        limit: settings.capacity
      })

/** Milliseconds an empty bucket takes to fill: after that long idle, it can be forgotten. */
const fillMillis = (settings: RateLimitSettings) => Math.ceil((settings.capacity * 1000) / settings.refillPerSecond)

interface Bucket {
  tokens: number
  at: number
}

export interface MemoryRateLimiterOptions extends RateLimitSettings {
  /** Buckets kept at most (default 100,000); past that the least recently used go first. */
  readonly maxBuckets?: number
}

/**
 * The in-process adapter. Buckets live in a Map kept in least-recently-used
 * order; each take drops idle buckets from the old end, so memory follows the
 * subjects active within one fill time, and `maxBuckets` caps it under a
 * flood of new subjects.
 */
export const makeMemoryRateLimiter = (options: MemoryRateLimiterOptions) =>
  Effect.sync(() => {
    const buckets = new Map<string, Bucket>()
    const maxBuckets = options.maxBuckets ?? 100_000
    const idleAfter = fillMillis(options)

    const dropIdle = (now: number) => {
      // At most a few per take: constant work per request, even after a burst of subjects.
      for (let i = 0; i < 4; i++) {
        const oldest = buckets.entries().next()
        if (oldest.done === true) return
        const [key, bucket] = oldest.value
        if (now - bucket.at < idleAfter && buckets.size <= maxBuckets) return
        buckets.delete(key)
      }
    }

    // Runs on every request: untraced (a span and its call-site capture would cost more than the check).
    const take = Effect.fnUntraced(function* (key: string) {
      const now = yield* Clock.currentTimeMillis
      const found = buckets.get(key)
      const bucket: Bucket = found ?? { tokens: options.capacity, at: now }
      if (now > bucket.at) {
        bucket.tokens = Math.min(options.capacity, bucket.tokens + ((now - bucket.at) * options.refillPerSecond) / 1000)
        bucket.at = now
      }
      const taken = bucket.tokens >= 1
      if (taken) bucket.tokens -= 1
      // Re-inserted at the young end: the Map's order is the recency order.
      buckets.delete(key)
      buckets.set(key, bucket)
      dropIdle(now)
      return decide(options, bucket.tokens, taken)
    })

    return { take, bucketCount: Effect.sync(() => buckets.size) }
  })

/**
 * Refills and takes up to `ARGV[4]` tokens in one step, atomically (a script
 * runs alone on Redis); returns how many it took and the tokens left. Time
 * comes from the caller, so every adapter refills by the same clock; a
 * bucket's timestamp never moves backwards, so a node whose clock lags a
 * little cannot mint tokens. The key expires once the bucket would be full.
 */
const takeScript = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local bucket = redis.call("HMGET", KEYS[1], "tokens", "at")
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
  at = now
end
local taken = math.min(wanted, math.floor(tokens))
if taken < 0 then taken = 0 end
tokens = tokens - taken
redis.call("HSET", KEYS[1], "tokens", tostring(tokens), "at", tostring(at))
redis.call("PEXPIRE", KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return { taken, tostring(tokens) }
`
const takeScriptSha = createHash("sha1").update(takeScript).digest("hex")

export interface RedisRateLimiterOptions extends RateLimitSettings {
  /** Prefix of every bucket key (default `agora:ratelimit:`); tests use one of their own. */
  readonly prefix?: string
}

// One warning per this long while Redis stays down, not one per request.
const warnEveryMillis = 10_000

/** One take waiting for its subject's script: resumed with its decision (an effect: a warning may go with it). */
type Waiter = (decision: Effect.Effect<RateLimitDecision>) => void

/** The Redis adapter on a client the caller owns (and closes). */
export const makeRedisRateLimiter = (redis: Redis, options: RedisRateLimiterOptions) =>
  Effect.sync(() => {
    const prefix = options.prefix ?? "agora:ratelimit:"
    let lastWarning = Number.NEGATIVE_INFINITY
    // Per subject with a script in flight: the takes that came meanwhile, sent together when it answers.
    const queued = new Map<string, Array<Waiter>>()

    // EVALSHA sends 40 bytes instead of the script; the script is loaded on first use and after a Redis restart.
    const run = (key: string, now: number, wanted: number): Promise<[number, string]> => {
      const args = [1, prefix + key, options.capacity, options.refillPerSecond, now, wanted] as const
      return redis
        .evalsha(takeScriptSha, ...args)
        .catch((error: unknown) =>
          String(error).includes("NOSCRIPT") ? redis.eval(takeScript, ...args) : Promise.reject(error)
        ) as Promise<[number, string]>
    }

    /** What the `i`-th of a batch gets when the script took `taken` tokens and left `tokens`. */
    const decisionOf = (i: number, taken: number, tokens: number) =>
      // As if each had gone alone, in order: the i-th allowed one leaves the tokens the later ones took.
      i < taken ? decide(options, tokens + (taken - 1 - i), true) : decide(options, tokens, false)

    const failedOpen = (now: number, error: unknown) =>
      Effect.gen(function* () {
        if (now - lastWarning >= warnEveryMillis) {
          lastWarning = now
          yield* Effect.logWarning("RateLimiter: Redis failed, requests are allowed unlimited meanwhile", error)
        }
        return new Allowed({ remaining: options.capacity - 1, limit: options.capacity, resetSeconds: 0 })
      })

    /** Sends one script for `batch` (the subject's queue is in place, empty); then the takes queued meanwhile. */
    const send = (key: string, batch: ReadonlyArray<Waiter>, clock: Clock.Clock) => {
      const now = clock.currentTimeMillisUnsafe()
      // Started inside a promise, so that even a client throwing at the call settles the batch (and the queue).
      Promise.resolve(batch.length)
        .then((wanted) => run(key, now, wanted))
        .then(
          ([taken, tokens]) => {
            for (const [i, waiter] of batch.entries()) waiter(Effect.succeed(decisionOf(i, taken, Number(tokens))))
            next(key, clock)
          },
          (error: unknown) => {
            for (const waiter of batch) waiter(failedOpen(now, error))
            next(key, clock)
          }
        )
    }

    const next = (key: string, clock: Clock.Clock) => {
      const waiting = queued.get(key) ?? []
      if (waiting.length === 0) queued.delete(key)
      else {
        queued.set(key, [])
        send(key, waiting, clock)
      }
    }

    // Runs on every request: no span (a span and its call-site capture would cost more than the check).
    const take = (key: string): Effect.Effect<RateLimitDecision> =>
      Effect.clockWith((clock) =>
        Effect.callback<RateLimitDecision>((resume) => {
          const waiter: Waiter = (decision) => resume(decision)
          const waiting = queued.get(key)
          if (waiting === undefined) {
            queued.set(key, [])
            send(key, [waiter], clock)
            return
          }
          waiting.push(waiter)
          // A take given up before its script was sent (its request went away) takes nothing.
          return Effect.sync(() => {
            const index = queued.get(key)?.indexOf(waiter) ?? -1
            if (index >= 0) queued.get(key)?.splice(index, 1)
          })
        })
      )

    return { take }
  })

/** The options the Redis adapter needs so that a dead or slow Redis answers at once instead of queueing. */
export const redisClientOptions = {
  enableOfflineQueue: false,
  // Every request takes a token: the checks of one event-loop turn go out in one write (one pipeline), not one
  // write each. (A write to a socket wakes its reader; on a busy 2-core machine that was 18 % of a GET's time.)
  enableAutoPipelining: true,
  commandTimeout: 250,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000
} as const

/**
 * An ioredis client for `url`, closed with the scope. Startup waits until it
 * is connected, or until its first error: a Redis that is down at start only
 * means the limiter fails open until ioredis reconnects.
 */
export const acquireRedis = (url: string) =>
  Effect.gen(function* () {
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis(url, redisClientOptions)),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    const connected = yield* Effect.callback<boolean>((resume) => {
      const ready = () => settle(true)
      const failed = () => settle(false)
      const settle = (ok: boolean) => {
        redis.off("ready", ready)
        redis.off("error", failed)
        resume(Effect.succeed(ok))
      }
      redis.once("ready", ready)
      redis.once("error", failed)
    })
    // Errors reach the callers of commands; without a listener ioredis would print each reconnect failure.
    redis.on("error", () => {})
    if (!connected)
      yield* Effect.logWarning("RateLimiter: Redis is unreachable at start; limits are open until it is back")
    return redis
  })

const unlimited = (capacity: number) => ({
  take: (_key: string): Effect.Effect<RateLimitDecision> =>
    Effect.succeed(new Allowed({ remaining: capacity, limit: capacity, resetSeconds: 0 }))
})

/** Takes a token from a subject's bucket. */
export class RateLimiter extends Context.Service<
  RateLimiter,
  {
    /** Takes one token from `key`'s bucket; never fails. */
    readonly take: (key: string) => Effect.Effect<RateLimitDecision>
  }
>()("@agora/edge/RateLimiter") {
  /** In process, from config (`rateLimitConfig`). */
  static readonly layerMemory: Layer.Layer<RateLimiter, Config.ConfigError> = Layer.effect(
    RateLimiter,
    Effect.gen(function* () {
      const config = yield* rateLimitConfig
      return config.enabled ? yield* makeMemoryRateLimiter(config) : unlimited(config.capacity)
    })
  )

  /** On Redis, from config: `REDIS_URL`, `RATE_LIMIT_REDIS_PREFIX` and `rateLimitConfig`. */
  static readonly layerRedis: Layer.Layer<RateLimiter, Config.ConfigError> = Layer.effect(
    RateLimiter,
    Effect.gen(function* () {
      const config = yield* rateLimitConfig
      if (!config.enabled) return unlimited(config.capacity)
      const url = yield* Config.Redacted("REDIS_URL")
      const prefix = yield* Config.String("RATE_LIMIT_REDIS_PREFIX").pipe(Config.withDefault("agora:ratelimit:"))
      const redis = yield* acquireRedis(Redacted.value(url))
      return yield* makeRedisRateLimiter(redis, { ...config, prefix })
    })
  )

  /** In process, with explicit settings. */
  static readonly layerMemoryWith = (options: MemoryRateLimiterOptions): Layer.Layer<RateLimiter> =>
    Layer.effect(RateLimiter, makeMemoryRateLimiter(options))

  /** On a Redis client the caller owns, with explicit settings. */
  static readonly layerRedisWith = (redis: Redis, options: RedisRateLimiterOptions): Layer.Layer<RateLimiter> =>
    Layer.effect(RateLimiter, makeRedisRateLimiter(redis, options))
}
