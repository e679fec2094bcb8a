/**
 * `pnpm bench:projections [--json] [--events=1000000] [--duration=10] [--clients=64]`
 * (`--clients=16,64`: one load run per count; the figures of record are the last):
 * the read models' two figures, on the machine's PostgreSQL and Redis.
 *
 * 1. **Rebuild rate.** A fresh bench database gets a realistic history of
 *    `--events` events (`history.ts`: the domain deciders run in memory —
 *    catalog, accounts, orders placed, reserved, paid, shipped, delivered or
 *    cancelled with stock released and debits refunded), appended with the
 *    PostgreSQL event store's `appendMulti` in batches of 5,000 (the
 *    generation rate is reported too). Then each projection of
 *    `ReadModels.projections` is rebuilt into Redis under a fresh key prefix
 *    (`Rebuild.rebuild`, not a dry run, `compare: false`: the live generation
 *    is empty). A rebuild reads the whole log (pages of 5,000, each committed
 *    while the next is read and applied) and skips the other projections'
 *    events, so its rate is log events per second (the longest event-loop
 *    delay during each is reported: a commit's reply may wait that long);
 *    `rebuild_events_per_s` is all three rebuilds' events over their total
 *    time (and
 *    `rebuild_all_models_log_events_per_s` the log's events over that time:
 *    the rate of rebuilding the whole read side). Then, unless
 *    `--breakdown=false`, each projection is rebuilt once more with its stages
 *    run one after the other and timed (PostgreSQL read + decode, finding the
 *    page's new documents, apply, documents encoded, commit to Redis; Redis's
 *    own time for the commit scripts from `INFO commandstats`). `--profile=DIR` writes a
 *    CPU profile of the rebuilds (this process) and prints where it went.
 * 2. **Projection lag under load.** The saga benchmark's load (`saga-load.ts`:
 *    `--clients` closed-loop clients placing orders to PAID for `--duration`
 *    seconds) against the real server process with its read models in Redis
 *    under a fresh `READ_MODEL_PREFIX`. Each event's lag is the projection
 *    runner's own (commit of its page into Redis − the event's `recorded_at`,
 *    in ms), taken exactly from the runner's `onCommit` by a probe loaded
 *    into the server (`projection-lag-probe.ts`), and checked against the
 *    count and sum of the server's `agora_projection_lag_seconds` histogram.
 *    Reported: p50/p99/max per projection over the events recorded during
 *    the load, each lag split at the moment its page reached the runner, and
 *    the server's event-loop delay. `--server-profile=DIR` writes a CPU
 *    profile of the server.
 *
 * The bench databases and every Redis key under the run's prefixes are
 * deleted at the end (`--reuse`: keep the history's database, and use it
 * instead of generating again when it holds `--events` events; for profiling
 * the rebuilds). `--only=rebuild|lag` runs one part. With `--json` the last
 * line is one JSON object.
 */
import { randomUUID } from "node:crypto"
import { once } from "node:events"
import { writeFileSync } from "node:fs"
import { availableParallelism, cpus } from "node:os"
import { join } from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { ReadModels } from "@agora/app"
import { EventStore, PgEventStore, type RecordedEvent } from "@agora/eventstore"
import { type Projection, ProjectionRunner, ReadModelStore, Rebuild, WorkingSet } from "@agora/readmodels"
import { makeRedisStore } from "@agora/readmodels/testing"
import * as BenchDatabase from "@agora/testkit/bench-database"
import { parseArgs } from "@agora/testkit/load"
import { PgClient } from "@effect/sql-pg"
import { Effect, Fiber, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { deleteRedisKeys, dropDatabase } from "./cleanup.ts"
import { generate, type HistoryStats } from "./history.ts"
import type { ProbeCommit, ProbeReply } from "./projection-lag-probe.ts"
import { percentile, prepareClients, runClosedLoop, type Server, startServer, summarisePaid } from "./saga-load.ts"

const args = parseArgs(process.argv.slice(2))
const totalEvents = Number(args.events ?? 1_000_000)
const duration = Number(args.duration ?? 10)
/** Client counts of the load (one run each); the figures of record are the last one's. */
const clientCounts = (args.clients ?? "64").split(",").map(Number)
const json = args.json === "true"
/** `rebuild` or `lag`: run only that part. */
const only = args.only
const breakdown = args.breakdown !== "false"
const reuse = args.reuse === "true"
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
const probePath = fileURLToPath(new URL("./projection-lag-probe.ts", import.meta.url))
const runId = randomUUID()
const log = (line: string) => process.stderr.write(`${line}\n`)
const round = (n: number, digits = 0) => Number(n.toFixed(digits))

// ---------------------------------------------------------------------------------------------
// 1. Rebuild rate

/**
 * Redis's own time in scripts (`evalsha`, whose time includes the commands it
 * runs): the commits. Redis-wide, so another client's scripts on a shared
 * Redis count too (a few ms a second on this machine).
 */
const scriptMicros = (info: string) => {
  const match = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info)
  return match === null ? 0 : Number(match[2])
}

interface RebuildRow {
  readonly projection: string
  readonly events: number
  readonly handled: number
  readonly elapsedMs: number
  readonly eventsPerS: number
  readonly handledPerS: number
  readonly redisScriptMs: number
  readonly parked: number
  /** The longest the event loop was held up during the rebuild (a commit's reply waits that long). */
  readonly maxLoopDelayMs: number
}

interface Stages {
  readonly projection: string
  readonly events: number
  readonly readMs: number
  /** Finding the page's documents the working set does not hold yet. */
  readonly loadMs: number
  readonly applyMs: number
  readonly encodeMs: number
  readonly commitMs: number
  readonly redisScriptMs: number
  readonly writes: number
  readonly totalMs: number
}

/**
 * A rebuild's loop (as `Rebuild.rebuild` runs it) with its stages one after
 * the other, each timed: what the pipelined rebuild overlaps, separated.
 */
const stagedRebuild = (projection: Projection, batchSize: number, info: () => Promise<string>) =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const events = yield* EventStore
    const generation = yield* store.newGeneration(projection.name)
    const working = new WorkingSet(Number.MAX_SAFE_INTEGER)
    const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function* () {
        const t = performance.now()
        const value = yield* effect
        return [value, performance.now() - t] as const
      })
    let checkpoint = 0
    let count = 0
    let readMs = 0
    let loadMs = 0
    let applyMs = 0
    let encodeMs = 0
    let commitMs = 0
    let writes = 0
    const scriptBefore = scriptMicros(yield* Effect.promise(info))
    const started = performance.now()
    for (;;) {
      const [page, read] = yield* timed(events.readAll({ after: checkpoint, limit: batchSize }))
      readMs += read
      if (page.length === 0) break
      const last: RecordedEvent = page.at(-1)!
      let t = performance.now()
      // As `Rebuild` does: the new generation is empty, so what the working set does not hold is missing.
      for (const key of ProjectionRunner.keysToLoad(projection, page, working)) working.load(key, undefined)
      ProjectionRunner.noteOrigin(page, checkpoint, working)
      loadMs += performance.now() - t
      t = performance.now()
      ProjectionRunner.applyPage(projection, page, working)
      applyMs += performance.now() - t
      t = performance.now()
      const flushed = working.flush()
      encodeMs += performance.now() - t
      writes += flushed.length
      const [, commit] = yield* timed(
        store.commit(generation, {
          expectedCheckpoint: checkpoint,
          checkpoint: last.position,
          writes: flushed,
          requireActive: false
        })
      )
      commitMs += commit
      count += page.length
      checkpoint = last.position
    }
    const totalMs = performance.now() - started
    const redisScriptMs = (scriptMicros(yield* Effect.promise(info)) - scriptBefore) / 1000
    yield* store.dropGeneration(generation)
    return {
      projection: projection.name,
      events: count,
      readMs,
      loadMs,
      applyMs,
      encodeMs,
      commitMs,
      redisScriptMs,
      writes,
      totalMs
    } satisfies Stages
  })

/** Self time of a CPU profile by area, and its top functions. */
const summariseProfile = (profile: {
  nodes: ReadonlyArray<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>
  samples: ReadonlyArray<number>
  timeDeltas: ReadonlyArray<number>
}) => {
  const areaOf = (url: string, name: string) => {
    if (url === "") return name.startsWith("(") ? name : "native / V8 builtins"
    if (/\/(pg|pg-protocol|pg-types|postgres-[a-z]+|pg-int8|pgpass)\//.test(url)) return "pg driver (wire + row decode)"
    if (/@effect\/sql-pg|effect\/dist\/(unstable\/)?sql\//.test(url)) return "effect/sql (query layer)"
    if (/\/(ioredis|redis-parser|redis-errors|denque|cluster-key-slot|standard-as-callback)\//.test(url))
      return "ioredis (argument encoding, reply parsing)"
    if (
      /effect\/dist\/(Schema|SchemaAST|SchemaParser|SchemaIssue|SchemaTransformation|SchemaGetter|internal\/schema)/.test(
        url
      )
    )
      return "effect Schema (decode events, encode docs)"
    if (url.includes("effect/dist/")) return "effect runtime (fibers, Effect.gen)"
    if (url.includes("/packages/app/src/readmodels/")) return "projections (app/readmodels)"
    if (url.includes("/packages/domain/src/")) return "domain evolve"
    if (url.includes("/packages/readmodels/src/")) return "readmodels (WorkingSet, runner, Redis adapter)"
    if (url.includes("/packages/eventstore/src/")) return "eventstore (toRecorded)"
    if (url.startsWith("node:")) return "node internals (buffers, sockets)"
    return "other"
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const areas = new Map<string, number>()
  const functions = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    if (node === undefined) return
    const dt = profile.timeDeltas[i] ?? 0
    const { functionName, url, lineNumber } = node.callFrame
    const area = areaOf(url, functionName)
    if (area === "(idle)") return
    total += dt
    areas.set(area, (areas.get(area) ?? 0) + dt)
    const fn = `${functionName || "(anonymous)"} ${url.replace(/^.*\/(node_modules\/\.pnpm\/[^/]+\/node_modules\/|packages\/)/, "")}:${lineNumber + 1}`
    functions.set(fn, (functions.get(fn) ?? 0) + dt)
  })
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: round(us / 1000), share: round((100 * us) / total, 1) }))
  return { busyMs: round(total / 1000), areas: top(areas, 20), functions: top(functions, 25) }
}

/** The number of events in the database `name`, or undefined when it does not exist. */
const existingHistory = async (name: string) => {
  const url = new URL(BenchDatabase.serverUrl)
  url.pathname = `/${name}`
  return Effect.runPromise(
    SqlClient.SqlClient.pipe(
      Effect.flatMap((sql) => sql<{ n: string | null }>`SELECT max(position) AS n FROM events`),
      Effect.map((rows) => ({ url: url.toString(), events: Number(rows[0]?.n ?? 0) })),
      Effect.provide(PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 1 })),
      Effect.orElseSucceed(() => undefined)
    )
  )
}

const rebuildPhase = async () => {
  const database = "agora_bench_projections"
  const existing = reuse ? await existingHistory(database) : undefined
  const reused = existing !== undefined && existing.events === totalEvents
  const databaseUrl = reused ? existing.url : await BenchDatabase.fresh(database)
  const prefix = `agora-bench:rm:${runId}:`
  const stats: HistoryStats = { events: 0, orders: 0, users: 0, products: 0, byStreamType: {}, byEventType: {} }
  try {
    return await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { store, redis } = yield* makeRedisStore(redisUrl, prefix)
          const info = () => redis.info("commandstats")
          const eventStore = yield* EventStore

          // The history: the next batch is generated while the previous one is appended.
          log(`generating and appending ${totalEvents.toLocaleString("en")} events…`)
          const generated = performance.now()
          let pending: Fiber.Fiber<unknown, unknown> | undefined
          for (const batch of generate({ events: totalEvents }, stats)) {
            if (reused) continue
            if (pending !== undefined) yield* Fiber.join(pending)
            pending = yield* Effect.forkChild(eventStore.appendMulti(batch))
            yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
          }
          if (pending !== undefined) yield* Fiber.join(pending)
          const generationS = (performance.now() - generated) / 1000
          if (reused) log("  (the history was already in the database: generated only, not appended)")
          const head = yield* eventStore.headPosition
          if (head !== stats.events) throw new Error(`the log holds ${head} events, ${stats.events} were generated`)
          log(`  ${stats.events} events in ${generationS.toFixed(1)} s (${Math.round(stats.events / generationS)}/s)`)

          // The rebuilds, as `pnpm rebuild` runs them (profiled with --profile).
          const session = args.profile === undefined ? undefined : yield* Effect.promise(startProfiler)
          const rows: Array<RebuildRow> = []
          for (const projection of ReadModels.projections) {
            const before = scriptMicros(yield* Effect.promise(info))
            const loop = monitorEventLoopDelay({ resolution: 10 })
            loop.enable()
            const report = yield* Rebuild.rebuild(projection, { compare: false, grace: 0 }).pipe(
              Effect.provideService(ReadModelStore, store)
            )
            loop.disable()
            const redisScriptMs = (scriptMicros(yield* Effect.promise(info)) - before) / 1000
            if (!report.switched) throw new Error(`${projection.name}: the rebuild did not switch`)
            const handled = stats.byStreamType[streamTypeOf(projection)] ?? 0
            rows.push({
              projection: projection.name,
              events: report.events,
              handled,
              elapsedMs: report.elapsedMs,
              eventsPerS: report.eventsPerSecond,
              handledPerS: Math.round((handled / report.elapsedMs) * 1000),
              redisScriptMs,
              parked: report.parked,
              maxLoopDelayMs: round(loop.max / 1e6)
            })
            log(
              `  rebuilt ${projection.name}: ${report.events} events in ${report.elapsedMs} ms, ${report.parked} parked`
            )
          }
          const profile =
            session === undefined ? undefined : yield* Effect.promise(() => stopProfiler(session, args.profile!))

          // What the rebuilt models hold, checked against what was generated.
          const skus = yield* store.indexRangeByMember({ projection: "catalog" }, "skus", { limit: 1_000_000 })
          if (skus.length !== stats.products)
            throw new Error(`catalog: ${skus.length} SKUs in the skus index, ${stats.products} defined`)

          const stages: Array<Stages> = []
          if (breakdown) {
            for (const projection of ReadModels.projections) {
              stages.push(
                yield* stagedRebuild(projection, 5_000, info).pipe(Effect.provideService(ReadModelStore, store))
              )
              log(`  staged ${projection.name}`)
            }
          }
          return { stats, generationS, rows, stages, profile }
        }).pipe(
          Effect.provide(
            PgEventStore.layer().pipe(
              Layer.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 4 }))
            )
          )
        )
      )
    )
  } finally {
    if (!reuse) await dropDatabase(database)
  }
}

/** The stream type a projection handles (each of these handles one aggregate's streams). */
const streamTypeOf = (projection: Projection) => {
  for (const type of ["order", "account", "inventory"]) {
    const probe = { streamType: type } as RecordedEvent
    if (projection.handles(probe)) return type
  }
  return "?"
}

type ProfilerSession = import("node:inspector/promises").Session

const startProfiler = async (): Promise<ProfilerSession> => {
  const { Session } = await import("node:inspector/promises")
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 200 })
  await session.post("Profiler.start")
  return session
}

const stopProfiler = async (session: ProfilerSession, dir: string) => {
  const { profile } = await session.post("Profiler.stop")
  session.disconnect()
  const file = join(dir, `projections-rebuild-${Date.now()}.cpuprofile`)
  writeFileSync(file, JSON.stringify(profile))
  log(`  CPU profile of the rebuilds: ${file}`)
  return summariseProfile(profile as Parameters<typeof summariseProfile>[0])
}

// ---------------------------------------------------------------------------------------------
// 2. Projection lag under load

const askProbe = async (server: Server): Promise<ProbeReply> => {
  const reply = once(server.child, "message") as Promise<[ProbeReply]>
  server.child.send({ type: "lags" })
  const [message] = await reply
  return message
}

/** Count and sum of `agora_projection_lag_seconds` per projection, from the server's `/metrics`. */
const scrapeLagHistogram = async (base: string) => {
  const text = await (await fetch(`${base}/metrics`)).text()
  const out = new Map<string, { count: number; sum: number }>()
  for (const line of text.split("\n")) {
    const match = /^agora_projection_lag_seconds_(count|sum)\{[^}]*projection="([^"]+)"[^}]*\} (\S+)$/.exec(line)
    if (match === null) continue
    const entry = out.get(match[2]!) ?? { count: 0, sum: 0 }
    entry[match[1] as "count" | "sum"] = Number(match[3])
    out.set(match[2]!, entry)
  }
  return out
}

interface LagRow {
  readonly projection: string
  readonly events: number
  readonly commits: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** Of each lag, the part until its page reached the runner (commit, wake-up, read from the log). */
  readonly toRunnerP50: number
  readonly toRunnerP99: number
  /** And the part in the runner (documents loaded, applied, committed to Redis). */
  readonly inRunnerP50: number
  readonly inRunnerP99: number
}

const lagPhase = async (clients: number) => {
  const database = "agora_bench_projections_load"
  const readModelPrefix = `agora-bench:rm:${runId}:load-${clients}:`
  const rateLimitPrefix = `agora-bench:rl:${runId}:${clients}:`
  const server = await startServer({
    database,
    nodeArgs: [
      "--import",
      probePath,
      // `--server-profile=DIR`: a CPU profile of the server under the load, written when it stops.
      ...(args["server-profile"] === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${args["server-profile"]}`])
    ],
    env: { READ_MODEL_PREFIX: readModelPrefix, RATE_LIMIT_REDIS_PREFIX: rateLimitPrefix },
    ipc: true
  })
  const all: Array<ProbeCommit> = []
  try {
    log(`load: ${clients} clients for ${duration} s…`)
    const tokens = await prepareClients(server.base, clients)
    all.push(...(await askProbe(server)).commits)
    const run = await runClosedLoop(server.base, tokens, duration)
    const during = await askProbe(server)
    all.push(...during.commits)
    // Let the sagas in flight finish (as the saga benchmark does) and the projections catch up.
    await new Promise((r) => setTimeout(r, 3000))
    all.push(...(await askProbe(server)).commits)
    const histogram = await scrapeLagHistogram(server.base)
    const paid = await summarisePaid(server.databaseUrl, run, duration)

    const from = run.t0 + run.begin
    const to = run.t0 + run.deadline
    const rows: Array<LagRow> = []
    const check: Array<{ projection: string; probe: number; histogram: number; sumMatches: boolean }> = []
    for (const projection of ReadModels.projections) {
      const lags: Array<number> = []
      const toRunner: Array<number> = []
      const inRunner: Array<number> = []
      let commits = 0
      let count = 0
      let sum = 0
      for (const commit of all) {
        if (commit.projection !== projection.name) continue
        let inWindow = false
        for (const lag of commit.lagsMs) {
          count++
          sum += Math.max(0, lag) / 1000
          const recordedAt = commit.at - lag
          if (recordedAt < from || recordedAt > to) continue
          lags.push(lag)
          toRunner.push(lag - (commit.at - commit.readAt))
          inRunner.push(commit.at - commit.readAt)
          inWindow = true
        }
        if (inWindow) commits++
      }
      for (const list of [lags, toRunner, inRunner]) list.sort((a, b) => a - b)
      rows.push({
        projection: projection.name,
        events: lags.length,
        commits,
        p50: percentile(lags, 50),
        p99: percentile(lags, 99),
        max: lags.at(-1) ?? Number.NaN,
        toRunnerP50: percentile(toRunner, 50),
        toRunnerP99: percentile(toRunner, 99),
        inRunnerP50: percentile(inRunner, 50),
        inRunnerP99: percentile(inRunner, 99)
      })
      const scraped = histogram.get(projection.name) ?? { count: 0, sum: 0 }
      check.push({
        projection: projection.name,
        probe: count,
        histogram: scraped.count,
        sumMatches: Math.abs(scraped.sum - sum) < 1e-6 * Math.max(1, sum)
      })
    }
    return { clients, rows, paid, placed: run.placed, check, loopDelay: during.loopDelay }
  } finally {
    await server.stop()
    await deleteRedisKeys(redisUrl, [readModelPrefix, rateLimitPrefix])
    await dropDatabase(database)
  }
}

// ---------------------------------------------------------------------------------------------

const cores = availableParallelism()
const rebuild = only === "lag" ? undefined : await rebuildPhase()
const lags: Array<Awaited<ReturnType<typeof lagPhase>>> = []
if (only !== "rebuild") for (const clients of clientCounts) lags.push(await lagPhase(clients))
const lag = lags.at(-1)

console.log(`\nProjections, ${cores} cores (${cpus()[0]?.model ?? "?"})\n`)
let rebuildAll: number | undefined
let rebuildModels: number | undefined
let rebuildSlowest: RebuildRow | undefined
if (rebuild !== undefined) {
  const { stats, generationS, rows, stages, profile } = rebuild
  const events = rows.reduce((n, r) => n + r.events, 0)
  const ms = rows.reduce((n, r) => n + r.elapsedMs, 0)
  rebuildAll = Math.round((events / ms) * 1000)
  rebuildModels = Math.round((stats.events / ms) * 1000)
  rebuildSlowest = [...rows].sort((a, b) => a.eventsPerS - b.eventsPerS)[0]
  console.log(
    `History: ${stats.events.toLocaleString("en")} events (${stats.orders} orders, ${stats.users} users, ${stats.products} products), generated and appended at ${Math.round(stats.events / generationS).toLocaleString("en")} events/s\n`
  )
  console.log(
    "| rebuild | log events | its own events | ms | log events/s | own events/s | Redis script ms | parked | max event-loop delay ms |"
  )
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
  for (const r of rows) {
    console.log(
      `| ${r.projection} | ${r.events} | ${r.handled} | ${r.elapsedMs} | ${r.eventsPerS} | ${r.handledPerS} | ${Math.round(r.redisScriptMs)} | ${r.parked} | ${r.maxLoopDelayMs} |`
    )
  }
  console.log(
    `| all three | ${events} | ${stats.events} | ${ms} | **${rebuildAll}** | ${rebuildModels} (the log into all three) | | | |`
  )
  if (stages.length > 0) {
    console.log("\nThe same rebuilds with their stages one after the other (ms):\n")
    console.log(
      "| projection | PostgreSQL read + decode | new docs | apply | encode docs | commit (client + Redis) | of which Redis script | writes | total |"
    )
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (const s of stages) {
      console.log(
        `| ${s.projection} | ${Math.round(s.readMs)} | ${Math.round(s.loadMs)} | ${Math.round(s.applyMs)} | ${Math.round(s.encodeMs)} | ${Math.round(s.commitMs)} | ${Math.round(s.redisScriptMs)} | ${s.writes} | ${Math.round(s.totalMs)} |`
      )
    }
  }
  if (profile !== undefined) {
    console.log(`\nCPU profile of the rebuilds (this process, busy ${profile.busyMs} ms):\n`)
    for (const a of profile.areas) console.log(`  ${String(a.share).padStart(5)} %  ${a.name}`)
    console.log("")
    for (const f of profile.functions) console.log(`  ${String(f.share).padStart(5)} %  ${f.name}`)
  }
}
const worstOf = (rows: ReadonlyArray<LagRow>) => [...rows].sort((a, b) => b.p99 - a.p99)[0]
const lagWorst = lag === undefined ? undefined : worstOf(lag.rows)
for (const run of lags) {
  console.log(
    `\nProjection lag under the saga load: ${run.clients} clients, ${duration} s, ${run.placed} orders placed, ${Math.round(run.paid.paidPerS)} orders to PAID/s (p99 ${Math.round(run.paid.p99)} ms)\n`
  )
  console.log(
    "| projection | events | pages | p50 ms | p99 ms | max ms | until in the runner p50 / p99 | in the runner p50 / p99 |"
  )
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|")
  for (const r of run.rows)
    console.log(
      `| ${r.projection} | ${r.events} | ${r.commits} | ${r.p50} | ${r.p99} | ${r.max} | ${r.toRunnerP50} / ${r.toRunnerP99} | ${r.inRunnerP50} / ${r.inRunnerP99} |`
    )
  console.log(
    `\nThe server's event-loop delay during the load: p50 ${run.loopDelay.p50} ms, p99 ${run.loopDelay.p99} ms, max ${run.loopDelay.max} ms`
  )
  console.log(
    `Probe vs the server's histogram (events since start): ${run.check.map((c) => `${c.projection} ${c.probe}/${c.histogram}${c.sumMatches ? "" : " (sum differs)"}`).join(", ")}`
  )
}

if (json) {
  console.log(
    JSON.stringify({
      rebuild_events_per_s: rebuildAll,
      rebuild_basis: "all three projections: log events over their total rebuild time",
      rebuild_slowest_events_per_s: rebuildSlowest?.eventsPerS,
      /** The log rebuilt into all three read models: its events over the three rebuilds' total time. */
      rebuild_all_models_log_events_per_s: rebuildModels,
      rebuild_slowest: rebuildSlowest?.projection,
      lag_p99_ms: lagWorst?.p99,
      lag_worst: lagWorst?.projection,
      cores,
      events: rebuild?.stats.events,
      generation_events_per_s:
        rebuild === undefined ? undefined : Math.round(rebuild.stats.events / rebuild.generationS),
      history:
        rebuild === undefined
          ? undefined
          : {
              orders: rebuild.stats.orders,
              users: rebuild.stats.users,
              products: rebuild.stats.products,
              by_stream_type: rebuild.stats.byStreamType
            },
      rebuild: rebuild?.rows.map((r) => ({
        projection: r.projection,
        events: r.events,
        own_events: r.handled,
        ms: r.elapsedMs,
        events_per_s: r.eventsPerS,
        own_events_per_s: r.handledPerS,
        redis_script_ms: Math.round(r.redisScriptMs),
        parked: r.parked,
        max_event_loop_delay_ms: r.maxLoopDelayMs
      })),
      stages_ms: rebuild?.stages.map((s) => ({
        projection: s.projection,
        read: Math.round(s.readMs),
        load: Math.round(s.loadMs),
        apply: Math.round(s.applyMs),
        encode: Math.round(s.encodeMs),
        commit: Math.round(s.commitMs),
        redis_script: Math.round(s.redisScriptMs),
        writes: s.writes,
        total: Math.round(s.totalMs)
      })),
      profile_areas: rebuild?.profile?.areas,
      lag: lag?.rows.map((r) => ({
        projection: r.projection,
        events: r.events,
        commits: r.commits,
        p50_ms: r.p50,
        p99_ms: r.p99,
        max_ms: r.max,
        until_runner_p50_ms: r.toRunnerP50,
        until_runner_p99_ms: r.toRunnerP99,
        in_runner_p50_ms: r.inRunnerP50,
        in_runner_p99_ms: r.inRunnerP99
      })),
      load:
        lag === undefined
          ? undefined
          : {
              clients: lag.clients,
              duration_s: duration,
              orders_placed: lag.placed,
              orders_to_paid_per_s: Math.round(lag.paid.paidPerS),
              p99_time_to_paid_ms: Math.round(lag.paid.p99),
              server_event_loop_delay_ms: lag.loopDelay
            },
      lag_runs:
        lags.length > 1
          ? lags.map((l) => ({
              clients: l.clients,
              orders_to_paid_per_s: Math.round(l.paid.paidPerS),
              lag_p99_ms: worstOf(l.rows)?.p99,
              lag: l.rows.map((r) => ({ projection: r.projection, p50_ms: r.p50, p99_ms: r.p99, max_ms: r.max }))
            }))
          : undefined,
      lag_probe_matches_histogram:
        lags.length === 0 ? undefined : lags.every((l) => l.check.every((c) => c.probe === c.histogram && c.sumMatches))
    })
  )
}
process.exit(0)
