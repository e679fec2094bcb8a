/**
 * The Redis read-model store. Key layout, for a `prefix` (default `agora:rm:`)
 * and a projection `p`:
 *
 * - `${prefix}p:active`: the active generation number (absent: 1, until the first
 *   `activeGeneration`, `newGeneration` or `switchActive` writes it);
 * - `${prefix}p:generations`: the highest generation number handed out (INCR;
 *   never decreases, so a number is never reused, even after a drop);
 * - `${prefix}p:g<n>:checkpoint`: generation n's checkpoint; it also marks the
 *   generation as existing (a fill creates it at 0);
 * - `${prefix}p:g<n>:partitions`: a hash of partition checkpoints, field
 *   `<index>/<of>` (a projection split by stream);
 * - `${prefix}p:g<n>:d:<key>`: a document, the string `<version>|<json>`, with a
 *   PX expiry when it has a TTL (a Put without TTL removes it);
 * - `${prefix}p:g<n>:i:<key>`: an index, a ZSET.
 *
 * `commit` is one Lua script that computes its documents' and indexes' keys
 * from the generation's prefix: keys not declared to Redis. That needs a
 * standalone Redis (a Redis Cluster would need every key of a generation in one
 * hash slot, which this layout does not do).
 *
 * Readers that name no generation use the active one, cached in this process
 * for at most one second per projection: a switch made elsewhere is seen within
 * about a second (the switching process sees it at once). So drop a generation
 * no sooner than a few seconds after switching away from it, or a reader's
 * late fill could write into it again. `activeGeneration` always asks Redis.
 *
 * Every ioredis failure is a `ReadModelError` naming the operation. Writes are
 * built as one flat ARGV array per commit and sent without waiting for earlier
 * commands, so commits issued back to back pipeline on the connection and run
 * in the order issued.
 */
import { Clock, Effect, Layer, Option, Stream } from "effect"
import { Redis } from "ioredis"
import { define } from "./internal/redisScripts.ts"
import * as Validate from "./internal/validate.ts"
import {
  type CommitOptions,
  type Entry,
  type Generation,
  type IndexEntry,
  type IndexRangeOptions,
  type Partition,
  ReadModelError,
  ReadModelStore,
  StaleCommit,
  type StoredDoc,
  type Target
} from "./ReadModelStore.ts"

export interface Options {
  /** Prefix of every key (the store's namespace in a shared Redis), e.g. `agora:rm:`. */
  readonly prefix: string
}

/** How long a reader trusts the active generation it read. */
const activeCacheMillis = 1_000
const scanCount = 1_000

const attempt = <A>(operation: string, run: () => Promise<A>): Effect.Effect<A, ReadModelError> =>
  Effect.tryPromise({ try: run, catch: (cause) => new ReadModelError({ operation, cause }) })

const refuse = (operation: string, message: string) => new ReadModelError({ operation, cause: new Error(message) })

/** A number as Redis reads it in a score or a Lua `tonumber` (JavaScript spells infinity differently). */
const numberArg = (n: number): string | number =>
  n === Number.POSITIVE_INFINITY ? "+inf" : n === Number.NEGATIVE_INFINITY ? "-inf" : n

const parseScore = (text: unknown) =>
  text === "inf" ? Number.POSITIVE_INFINITY : text === "-inf" ? Number.NEGATIVE_INFINITY : Number(text)

/** ZRANGE … WITHSCORES: a flat member/score list (RESP2), or member/score pairs (RESP3 mapping). */
const parseScored = (reply: ReadonlyArray<unknown>): Array<IndexEntry> => {
  const out: Array<IndexEntry> = []
  if (reply.length > 0 && Array.isArray(reply[0])) {
    for (const pair of reply as ReadonlyArray<readonly [string, unknown]>)
      out.push({ member: pair[0], score: parseScore(pair[1]) })
  } else {
    for (let i = 0; i + 1 < reply.length; i += 2)
      out.push({ member: String(reply[i]), score: parseScore(reply[i + 1]) })
  }
  return out
}

const parseDoc = (value: string | null | undefined): StoredDoc | undefined => {
  if (value == null) return undefined
  const bar = value.indexOf("|")
  // `<version>|` with no JSON is a `Drop` marker: no document.
  return bar < 0 || bar === value.length - 1
    ? undefined
    : { version: Number(value.slice(0, bar)), json: value.slice(bar + 1) }
}

const ttlArg = (ttlSeconds: number | undefined) => (ttlSeconds === undefined ? "" : Math.ceil(ttlSeconds * 1000))

/** Escapes a literal for a SCAN MATCH pattern. */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, "\\$&")

/**
 * The store on a client the caller owns (and closes). The client should fail
 * fast (see `clientOptions`) and must have no `keyPrefix`: the scripts build
 * keys that ioredis would not prefix, so the namespace is `options.prefix`.
 */
export const make = (redis: Redis, options: Options): Effect.Effect<ReadModelStore["Service"]> =>
  Effect.sync(() => {
    if (redis.options.keyPrefix) throw new Error("RedisReadModelStore: use options.prefix, not the client's keyPrefix")
    const client = define(redis)
    const { prefix } = options
    const activeKey = (projection: string) => `${prefix}${projection}:active`
    const counterKey = (projection: string) => `${prefix}${projection}:generations`
    const generationKey = (projection: string, generation: number) => `${prefix}${projection}:g${generation}:`
    const checkpointKey = (projection: string, generation: number) =>
      `${generationKey(projection, generation)}checkpoint`
    const partitionsKey = (projection: string, generation: number) =>
      `${generationKey(projection, generation)}partitions`

    const activeCache = new Map<string, { readonly generation: number; readonly until: number }>()
    const remember = (projection: string, generation: number) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        activeCache.set(projection, { generation, until: now + activeCacheMillis })
      })

    const resolve = (operation: string, target: Target): Effect.Effect<number, ReadModelError> => {
      if (target.generation !== undefined)
        return Effect.as(Validate.generation(operation, target.projection, target.generation), target.generation)
      const { projection } = target
      return Effect.flatMap(Validate.projection(operation, projection), () =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const cached = activeCache.get(projection)
          if (cached !== undefined && cached.until > now) return Effect.succeed(cached.generation)
          return Effect.map(
            attempt(operation, () => redis.get(activeKey(projection))),
            (active) => {
              const generation = active === null ? 1 : Number(active)
              activeCache.set(projection, { generation, until: now + activeCacheMillis })
              return generation
            }
          )
        })
      )
    }

    const commit = Effect.fn("RedisReadModelStore.commit")(function* (generation: Generation, options: CommitOptions) {
      const { projection, generation: n } = generation
      yield* Validate.generation("commit", projection, n)
      yield* Validate.commit("commit", options)
      const argv: Array<string | number> = [
        options.expectedCheckpoint,
        options.checkpoint,
        options.requireActive ? "1" : "0",
        n,
        generationKey(projection, n),
        options.partition?.index ?? "",
        options.partition?.of ?? ""
      ]
      for (const write of options.writes) {
        switch (write._tag) {
          case "Put":
            argv.push("P", write.key, write.version, `${write.version}|${write.json}`, ttlArg(write.ttlSeconds))
            break
          case "Drop":
            argv.push("D", write.key, numberArg(write.belowVersion))
            break
          case "IndexAdd":
            argv.push("A", write.key, numberArg(write.score), write.member)
            break
          case "IndexRemove":
            argv.push("R", write.key, write.member)
            break
        }
      }
      const status = yield* attempt("commit", () =>
        client.agoraRmCommit(checkpointKey(projection, n), activeKey(projection), partitionsKey(projection, n), argv)
      )
      if (status === "ok") return
      const colon = status.indexOf(":")
      const reason = status.slice(0, colon)
      if (reason !== "checkpoint_moved" && reason !== "not_active")
        return yield* refuse("commit", `unexpected reply ${status}`)
      return yield* new StaleCommit({ projection, generation: n, reason, found: Number(status.slice(colon + 1)) })
    })

    // Reads are on the hot HTTP path: untraced (a span per read would cost more than the read).
    const getDocs = Effect.fnUntraced(function* (target: Target, keys: ReadonlyArray<string>) {
      const generation = yield* resolve("getDocs", target)
      if (keys.length === 0) return []
      const base = `${generationKey(target.projection, generation)}d:`
      const names = keys.map((key) => base + key)
      const values = yield* attempt("getDocs", () => redis.mget(names))
      return values.map(parseDoc)
    })

    const fill = Effect.fnUntraced(function* (
      target: Target,
      key: string,
      doc: StoredDoc,
      ttlSeconds: number | undefined
    ) {
      const generation = yield* resolve("fill", target)
      yield* Validate.fill("fill", key, doc.version, ttlSeconds)
      const written = yield* attempt("fill", () =>
        client.agoraRmFill(
          `${generationKey(target.projection, generation)}d:${key}`,
          checkpointKey(target.projection, generation),
          doc.version,
          `${doc.version}|${doc.json}`,
          ttlArg(ttlSeconds)
        )
      )
      return written === 1
    })

    const indexRange = Effect.fnUntraced(function* (target: Target, key: string, options: IndexRangeOptions) {
      const generation = yield* resolve("indexRange", target)
      const limit = Validate.limit(options.limit)
      if (limit === 0) return []
      const name = `${generationKey(target.projection, generation)}i:${key}`
      const min = options.above === undefined ? "-inf" : `(${numberArg(options.above)}`
      const max = options.below === undefined ? "+inf" : `(${numberArg(options.below)}`
      const reply = yield* attempt("indexRange", () =>
        options.order === "asc"
          ? redis.zrange(name, min, max, "BYSCORE", "LIMIT", 0, limit, "WITHSCORES")
          : redis.zrange(name, max, min, "BYSCORE", "REV", "LIMIT", 0, limit, "WITHSCORES")
      )
      return parseScored(reply)
    })

    const indexRangeByMember = Effect.fnUntraced(function* (
      target: Target,
      key: string,
      options: { readonly after?: string | undefined; readonly limit: number }
    ) {
      const generation = yield* resolve("indexRangeByMember", target)
      const limit = Validate.limit(options.limit)
      if (limit === 0) return []
      const name = `${generationKey(target.projection, generation)}i:${key}`
      const start = options.after === undefined ? "-" : `(${options.after}`
      return yield* attempt("indexRangeByMember", () => redis.zrange(name, start, "+", "BYLEX", "LIMIT", 0, limit))
    })

    const activeGeneration = Effect.fn("RedisReadModelStore.activeGeneration")(function* (projection: string) {
      yield* Validate.projection("activeGeneration", projection)
      const generation = yield* attempt("activeGeneration", () =>
        client.agoraRmActiveGeneration(activeKey(projection), counterKey(projection))
      )
      yield* remember(projection, generation)
      return generation
    })

    const checkpoint = Effect.fn("RedisReadModelStore.checkpoint")(function* (generation: Generation) {
      yield* Validate.generation("checkpoint", generation.projection, generation.generation)
      const stored = yield* attempt("checkpoint", () =>
        redis.get(checkpointKey(generation.projection, generation.generation))
      )
      return stored === null ? 0 : Number(stored)
    })

    const partitionCheckpoint = Effect.fn("RedisReadModelStore.partitionCheckpoint")(function* (
      generation: Generation,
      partition: Partition
    ) {
      yield* Validate.generation("partitionCheckpoint", generation.projection, generation.generation)
      yield* Validate.partition("partitionCheckpoint", partition)
      const stored = yield* attempt("partitionCheckpoint", () =>
        redis.hget(partitionsKey(generation.projection, generation.generation), `${partition.index}/${partition.of}`)
      )
      return stored === null ? 0 : Number(stored)
    })

    const newGeneration = Effect.fn("RedisReadModelStore.newGeneration")(function* (projection: string) {
      yield* Validate.projection("newGeneration", projection)
      const generation = yield* attempt("newGeneration", () =>
        client.agoraRmNewGeneration(activeKey(projection), counterKey(projection))
      )
      return { projection, generation }
    })

    const switchActive = Effect.fn("RedisReadModelStore.switchActive")(function* (
      projection: string,
      from: number,
      to: number
    ) {
      yield* Validate.generation("switchActive", projection, to)
      const switched = yield* attempt("switchActive", () =>
        client.agoraRmSwitchActive(activeKey(projection), counterKey(projection), from, to)
      )
      if (switched === 1) yield* remember(projection, to)
      else activeCache.delete(projection)
      return switched === 1
    })

    /** Every key of a generation, a SCAN page at a time. */
    const scanPage = (operation: string, generation: Generation, cursor: string) =>
      attempt(operation, () =>
        redis.scan(
          cursor,
          "MATCH",
          `${escapeGlob(generationKey(generation.projection, generation.generation))}*`,
          "COUNT",
          scanCount
        )
      )

    const dropGeneration = Effect.fn("RedisReadModelStore.dropGeneration")(function* (generation: Generation) {
      const { projection, generation: n } = generation
      yield* Validate.generation("dropGeneration", projection, n)
      const active = yield* attempt("dropGeneration", () => redis.get(activeKey(projection)))
      if ((active === null ? 1 : Number(active)) === n)
        return yield* refuse("dropGeneration", `generation ${n} of ${projection} is active; switch away from it first`)
      let cursor = "0"
      let deleted = 0
      do {
        const [next, keys] = yield* scanPage("dropGeneration", generation, cursor)
        if (keys.length > 0) deleted += yield* attempt("dropGeneration", () => redis.unlink(keys))
        cursor = next
      } while (cursor !== "0")
      return deleted
    })

    const generations = Effect.fn("RedisReadModelStore.generations")(function* (projection: string) {
      yield* Validate.projection("generations", projection)
      return yield* attempt("generations", () =>
        client.agoraRmGenerations(activeKey(projection), counterKey(projection), `${prefix}${projection}:g`)
      )
    })

    /** The documents and indexes among one SCAN page's keys (a key gone since the SCAN is skipped). */
    const entriesOf = (generation: Generation, keys: ReadonlyArray<string>) => {
      const base = generationKey(generation.projection, generation.generation)
      const docKeys = keys.filter((key) => key.startsWith("d:", base.length))
      const indexKeys = keys.filter((key) => key.startsWith("i:", base.length))
      return attempt("scan", () =>
        Promise.all([
          docKeys.length === 0 ? Promise.resolve([]) : redis.mget(docKeys),
          Promise.all(indexKeys.map((key) => redis.zrange(key, 0, "-1", "WITHSCORES")))
        ])
      ).pipe(
        Effect.map(([docs, indexes]) => {
          const entries: Array<Entry> = []
          docs.forEach((value, i) => {
            const doc = parseDoc(value)
            if (doc !== undefined) entries.push({ _tag: "Doc", key: docKeys[i]!.slice(base.length + 2), doc })
          })
          indexes.forEach((reply, i) => {
            if (reply.length > 0)
              entries.push({ _tag: "Index", key: indexKeys[i]!.slice(base.length + 2), entries: parseScored(reply) })
          })
          return entries
        })
      )
    }

    const scan = (generation: Generation): Stream.Stream<Entry, ReadModelError> =>
      Stream.paginate("0", (cursor: string) =>
        Effect.gen(function* () {
          yield* Validate.generation("scan", generation.projection, generation.generation)
          const [next, keys] = yield* scanPage("scan", generation, cursor)
          const entries = yield* entriesOf(generation, keys)
          return [entries, next === "0" ? Option.none<string>() : Option.some(next)] as const
        })
      )

    return ReadModelStore.of({
      activeGeneration,
      checkpoint,
      partitionCheckpoint,
      commit,
      getDocs,
      fill,
      indexRange,
      indexRangeByMember,
      newGeneration,
      switchActive,
      dropGeneration,
      generations,
      scan,
      ping: Effect.asVoid(attempt("ping", () => redis.ping()))
    })
  })

/** The store on a client the caller owns. */
export const layer = (redis: Redis, options: Options): Layer.Layer<ReadModelStore> =>
  Layer.effect(ReadModelStore, make(redis, options))

/**
 * Client options so that a dead or hung Redis fails a command at once (or
 * after a second) with a `ReadModelError`, instead of queueing it until
 * Redis is back: readers then fall back to the event store, runners retry.
 * The timeout leaves room for a commit of a few thousand writes behind others.
 */
export const clientOptions = {
  enableOfflineQueue: false,
  commandTimeout: 1_000,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000
} as const

/**
 * An ioredis client for `url` with `clientOptions`, closed with the scope.
 * Waits until it is connected or has failed once: a Redis down at start is
 * logged and does not fail; commands fail until ioredis has reconnected.
 */
export const acquireRedis = (url: string) =>
  Effect.gen(function* () {
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis(url, clientOptions)),
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
      yield* Effect.logWarning("ReadModelStore: Redis is unreachable at start; reads and commits fail until it is back")
    return redis
  })

/** The store on a client of its own for `url`, closed with the layer. */
export const layerFromUrl = (url: string, options: Options): Layer.Layer<ReadModelStore> =>
  Layer.effect(
    ReadModelStore,
    Effect.flatMap(acquireRedis(url), (redis) => make(redis, options))
  )
