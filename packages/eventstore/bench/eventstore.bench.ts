/**
 * `pnpm bench:eventstore [--json] [--reps=3]`: Agora's PostgreSQL event store
 * against Emmett's, in one run, on the PostgreSQL at DATABASE_URL (default:
 * the machine's, postgres@127.0.0.1:5432). Each store gets a fresh database.
 * The headline ratio (10,000 new streams, 1 event each, 16 in flight) is the
 * median of `reps` interleaved runs of each store; the rest run once.
 */

import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import * as BenchDatabase from "@agora/testkit/bench-database"
import { type LoadResult, parseArgs, payload, runLoadEffect } from "@agora/testkit/load"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { EventStore, ExpectedVersion, type NewEvent, PgEventStore } from "../src/index.ts"

const args = parseArgs(process.argv.slice(2))
const reps = Number(args.reps ?? 3)
const agoraUrl = await BenchDatabase.fresh("agora_bench")
const emmettUrl = await BenchDatabase.fresh("agora_bench_emmett")
const runtime = ManagedRuntime.make(
  PgEventStore.layer().pipe(
    Layer.provide(PgClient.layer({ url: Redacted.make(agoraUrl), maxConnections: 16 })),
    Layer.orDie
  )
)
const store = await runtime.runPromise(EventStore)
const run = <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(effect)
const one = (type = "OrderPlaced"): Array<NewEvent> => [{ eventId: randomUUID(), type, data: payload }]
const many = (n: number) => Array.from({ length: n }, () => one("OrderLineAdded")[0]!)

const emmett = async (scenario: string, concurrency: number) => {
  const script = fileURLToPath(new URL("./emmett.bench.ts", import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, [
    script,
    `--url=${emmettUrl}`,
    `--scenario=${scenario}`,
    `--concurrency=${concurrency}`
  ])
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as {
    appends_per_s?: number
    events_per_s?: number
    p50_ms: number
    p99_ms: number
  }
}

const streams = (concurrency: number, total = 10_000) => {
  const prefix = randomUUID().slice(0, 8)
  return run(
    runLoadEffect({
      concurrency,
      total,
      op: (i) => Effect.as(store.append(`order-${prefix}${i}`, ExpectedVersion.NoStream, one()), true)
    }).pipe(Effect.orDie)
  )
}
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

interface Row {
  readonly scenario: string
  readonly agora: string
  readonly emmett: string
  readonly ratio: string
}
const rows: Array<Row> = []
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
const lat = (r: { readonly p50Ms: number; readonly p99Ms: number }) =>
  `p50 ${r.p50Ms.toFixed(2)} / p99 ${r.p99Ms.toFixed(2)} ms`
const figures: Record<string, number> = {}
const log = (line: string) => process.stderr.write(`${line}\n`)

// Warm-up: connections, prepared statements, JIT.
await streams(16, 2000)

// (a) one stream, sequential, 1 event per append, with the expected version an actor would hold.
{
  const id = `order-${randomUUID()}`
  let version = 0
  const r = await run(
    runLoadEffect({
      concurrency: 1,
      maxMs: 3000,
      op: () =>
        Effect.map(store.append(id, ExpectedVersion.exact(version), one()), (res) => {
          version = res.nextExpectedVersion
          return true
        })
    }).pipe(Effect.orDie)
  )
  rows.push({
    scenario: "(a) 1 stream, sequential, 1 event",
    agora: `${fmt(r.opsPerS)}/s ${lat(r)}`,
    emmett: "",
    ratio: ""
  })
  figures.appends_per_s_seq = r.opsPerS
  log(`(a) done`)
}

// (b) 10,000 new streams, 1 event each, at concurrency 1, 16 (with Emmett, interleaved) and 64.
{
  const c1 = await streams(1)
  rows.push({ scenario: "(b) 10k streams, c1", agora: `${fmt(c1.opsPerS)}/s ${lat(c1)}`, emmett: "", ratio: "" })
  figures.appends_per_s_c1 = c1.opsPerS
  const agoraRuns: Array<LoadResult> = []
  const emmettRuns: Array<Awaited<ReturnType<typeof emmett>>> = []
  for (let i = 0; i < reps; i++) {
    agoraRuns.push(await streams(16))
    emmettRuns.push(await emmett("streams", 16))
    log(
      `(b) c16 rep ${i + 1}/${reps}: agora ${fmt(agoraRuns.at(-1)!.opsPerS)}/s, emmett ${fmt(emmettRuns.at(-1)!.appends_per_s!)}/s`
    )
  }
  const agora = median(agoraRuns.map((r) => r.opsPerS))
  const peer = median(emmettRuns.map((r) => r.appends_per_s!))
  const agoraMid = agoraRuns.find((r) => r.opsPerS === agora)!
  const peerMid = emmettRuns.find((r) => r.appends_per_s === peer)!
  rows.push({
    scenario: `(b) 10k streams, c16 (median of ${reps})`,
    agora: `${fmt(agora)}/s ${lat(agoraMid)}`,
    emmett: `${fmt(peer)}/s p50 ${peerMid.p50_ms.toFixed(2)} / p99 ${peerMid.p99_ms.toFixed(2)} ms`,
    ratio: `${(agora / peer).toFixed(2)}x`
  })
  figures.appends_per_s_c16 = agora
  figures.emmett_appends_per_s_c16 = peer
  figures.ratio_c16 = agora / peer
  figures.p50_ms_c16 = agoraMid.p50Ms
  figures.p99_ms_c16 = agoraMid.p99Ms
  const c64 = await streams(64)
  rows.push({ scenario: "(b) 10k streams, c64", agora: `${fmt(c64.opsPerS)}/s ${lat(c64)}`, emmett: "", ratio: "" })
  figures.appends_per_s_c64 = c64.opsPerS
  figures.p99_ms_c64 = c64.p99Ms
}

// (c) 10 events per append, 2,000 new streams, 16 in flight.
{
  const prefix = randomUUID().slice(0, 8)
  const r = await run(
    runLoadEffect({
      concurrency: 16,
      total: 2000,
      op: (i) => Effect.as(store.append(`order-${prefix}${i}`, ExpectedVersion.NoStream, many(10)), true)
    }).pipe(Effect.orDie)
  )
  rows.push({
    scenario: "(c) 10 events per append, c16",
    agora: `${fmt(r.opsPerS)} appends/s = ${fmt(r.opsPerS * 10)} events/s ${lat(r)}`,
    emmett: "",
    ratio: ""
  })
  figures.appends_per_s_10_events = r.opsPerS
  figures.events_per_s_10_events = r.opsPerS * 10
}

// (d) contended: 16 writers on one stream, each with the version it last saw.
{
  const id = `order-${randomUUID()}`
  let known = (await run(store.append(id, ExpectedVersion.NoStream, one()))).nextExpectedVersion
  let conflicts = 0
  const r = await run(
    runLoadEffect({
      concurrency: 16,
      maxMs: 3000,
      op: () =>
        store.append(id, ExpectedVersion.exact(known), one("OrderLineAdded")).pipe(
          Effect.map((res) => {
            known = Math.max(known, res.nextExpectedVersion)
            return true
          }),
          Effect.catchTag("WrongExpectedVersion", (e) =>
            Effect.sync(() => {
              conflicts++
              known = Math.max(known, e.actual)
              return false
            })
          )
        )
    }).pipe(Effect.orDie)
  )
  rows.push({
    scenario: "(d) contended: 16 writers, 1 stream",
    agora: `${fmt(r.opsPerS)} ok/s, ${fmt(conflicts / r.elapsedS)} conflicts/s ${lat(r)}`,
    emmett: "",
    ratio: ""
  })
  figures.contended_successful_appends_per_s = r.opsPerS
  figures.contended_conflicts_per_s = conflicts / r.elapsedS
}

// readStream of a 1,000-event stream (with Emmett), and readAll over the whole log.
{
  const id = `order-${randomUUID()}`
  for (let k = 0; k < 10; k++) await run(store.append(id, ExpectedVersion.Any, many(100)))
  const r = await run(
    runLoadEffect({
      concurrency: 1,
      maxMs: 3000,
      op: () => Effect.map(store.readStream(id), (events) => events.length === 1000)
    }).pipe(Effect.orDie)
  )
  const peer = await emmett("read", 1)
  rows.push({
    scenario: "readStream, 1,000 events",
    agora: `${fmt(r.opsPerS * 1000)} events/s ${lat(r)}`,
    emmett: `${fmt(peer.events_per_s!)} events/s`,
    ratio: `${((r.opsPerS * 1000) / peer.events_per_s!).toFixed(2)}x`
  })
  figures.read_stream_events_per_s = r.opsPerS * 1000
  figures.emmett_read_stream_events_per_s = peer.events_per_s!

  const head = await run(store.headPosition)
  const t0 = performance.now()
  let after = 0
  while (after < head) {
    const page = await run(store.readAll({ after, limit: 1000 }))
    after = page.at(-1)!.position
  }
  const perS = head / ((performance.now() - t0) / 1000)
  rows.push({
    scenario: `readAll, ${fmt(head)} events, pages of 1,000`,
    agora: `${fmt(perS)} events/s`,
    emmett: "",
    ratio: ""
  })
  figures.read_all_events_per_s = perS
}

await runtime.dispose()

const widths = [40, 58, 44, 8]
const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")
console.log(
  `\nEvent store benchmark — ${new Date().toISOString()} — PostgreSQL at ${new URL(BenchDatabase.serverUrl).host}\n`
)
console.log(line(["scenario", "Agora", "Emmett (same run)", "ratio"]))
console.log(widths.map((w) => "-".repeat(w)).join("-|-"))
for (const r of rows) console.log(line([r.scenario, r.agora, r.emmett, r.ratio]))
if (args.json !== undefined) {
  console.log(
    JSON.stringify(Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v * 100) / 100])))
  )
}
process.exit(0)
