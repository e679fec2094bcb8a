/**
 * `pnpm bench:load [--json] [--steps=2,4,8,16,32,64,128,256,512] [--step-seconds=10]
 * [--soak-seconds=300] [--sample-seconds=10] [--users=100] [--p99-limit-ms=100]`:
 * the server under a mixed workload (`mixed-workload.ts`: 70% reads, 20%
 * orders, 10% top-ups) at growing concurrency until p99 passes the limit, then
 * a soak at the knee, watching the server's memory.
 *
 * The server is the real one (`packages/server/src/main.ts`, a child process,
 * as `saga-load.ts` starts it: a fresh bench database on the machine's
 * PostgreSQL, rate limits in Redis with a capacity no client reaches, the
 * in-process broker, the shipping simulator on with a 200 ms delay so that
 * every order runs its saga to SHIPPED and nothing is held per order for
 * good), with its read models in Redis under a prefix of this run. `--users`
 * users get funded accounts and one order each, and take turns (each request
 * of a client acts for the next user); every demo part is restocked
 * (`--stock`, default 1,000,000 each) so that orders do not run out.
 *
 * 1. **Ramp.** After a `--warmup-seconds` warm-up (default 5, not counted),
 *    closed-loop clients at each concurrency of `--steps`, each step
 *    `--settle-seconds` (default 1, not counted) then `--step-seconds`
 *    measured: req/s, p50/p99 latency overall and per kind, failures (any
 *    non-2xx, by status). The server's CPU (`/proc/<pid>/stat`, 100% = one
 *    core) and RSS (`/proc/<pid>/status`), its heap and event-loop delay (a
 *    probe loaded into it, `memory-probe.ts`), and the CPU of this process
 *    (the load generator, on the same cores) and of the whole machine. The
 *    ramp stops at the first step whose p99 exceeds `--p99-limit-ms` or more
 *    than 1% of whose requests fail; the knee is the last step before it.
 * 2. **Soak.** At the knee's concurrency for `--soak-seconds`, a sample every
 *    `--sample-seconds`: req/s, p99, server CPU, RSS, heap (used, total,
 *    external), actors in memory (from `/metrics`). The RSS slope (least
 *    squares, MiB/min) over the second half, after warm-up, decides whether
 *    memory is flat; the slope of the heap in use after each major GC (what
 *    the program keeps, not what V8 lets pile up before collecting) is
 *    judged by the same threshold beside it.
 *
 * The bench database and the run's Redis keys are deleted at the end
 * (`--keep`: keep the database). `--profile=DIR` writes a CPU profile of the
 * server. With `--json` the last line is one JSON object.
 */
import type { ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { parseArgs } from "@agora/testkit/load"
import { deleteRedisKeys, dropDatabase } from "./cleanup.ts"
import type { MemoryReply, MemoryRequest } from "./memory-probe.ts"
import {
  type Kind,
  mix,
  prepareUsers,
  type Recorder,
  runClients,
  summarise,
  target,
  Window,
  type WindowSummary
} from "./mixed-workload.ts"
import { cpuMeter, cpuSeconds, machineCpuSeconds, rssBytes } from "./proc-stats.ts"
import { prepareClients, startServer } from "./saga-load.ts"

const args = parseArgs(process.argv.slice(2))
const steps = (args.steps ?? "2,4,8,16,32,64,128,256,512").split(",").map(Number)
const stepSeconds = Number(args["step-seconds"] ?? 10)
const settleSeconds = Number(args["settle-seconds"] ?? 1)
const warmupSeconds = Number(args["warmup-seconds"] ?? 5)
const soakSeconds = Number(args["soak-seconds"] ?? 300)
const sampleSeconds = Number(args["sample-seconds"] ?? 10)
const userCount = Number(args.users ?? 100)
const stock = Number(args.stock ?? 1_000_000)
const p99LimitMs = Number(args["p99-limit-ms"] ?? 100)
/** A step whose failed share is above this ends the ramp too: fast errors are not capacity. */
const maxErrorShare = 0.01
/**
 * Memory is "flat" when it grows by less than this over the soak's second
 * half. Over a 2.5-minute window a healthy heap's readings wander by a few
 * MiB (V8 sizes its heap in steps, RSS follows the allocator): slopes of
 * about ±1 MiB/min. A leak that matters is tied to requests, and at a knee of
 * hundreds to thousands of requests per second 1 MiB/min is 6–150 bytes per
 * request (printed with the verdict): any object kept per request shows above
 * it. The actor runtime keeps idle actors for 30 seconds (at most 50,000), so
 * memory may only level off once the load has run longer than that.
 */
const flatMiBPerMin = 1
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
const probePath = fileURLToPath(new URL("./memory-probe.ts", import.meta.url))
const runId = randomUUID()
const database = "agora_bench_load"
const readModelPrefix = `agora-bench:rm:${runId}:load:`
const rateLimitPrefix = `agora-bench:rl:${runId}:load:`
const log = (line: string) => process.stderr.write(`${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const round = (n: number, digits = 0) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null)
const mib = (bytes: number) => bytes / 1024 / 1024

const askMemory = (child: ChildProcess): Promise<MemoryReply> =>
  new Promise((resolve, reject) => {
    const onMessage = (message: MemoryReply) => {
      if (message?.type !== "memory") return
      clearTimeout(timer)
      child.off("message", onMessage)
      resolve(message)
    }
    const timer = setTimeout(() => {
      child.off("message", onMessage)
      reject(new Error("the server's memory probe did not answer within 10 s"))
    }, 10_000)
    child.on("message", onMessage)
    child.send({ type: "memory" } satisfies MemoryRequest)
  })

/** Least-squares slope of y over x. */
const slope = (points: ReadonlyArray<readonly [number, number]>) => {
  const n = points.length
  if (n < 2) return Number.NaN
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return num / den
}

const errorText = (byStatus: Record<string, number>) =>
  Object.keys(byStatus).length === 0
    ? "0"
    : Object.entries(byStatus)
        .map(([status, n]) => `${status}×${n}`)
        .join(", ")

interface StepRow {
  readonly concurrency: number
  readonly load: WindowSummary
  readonly serverCpu: number
  readonly benchCpu: number
  readonly machineCpu: number
  readonly rssMiB: number
  readonly rssMaxMiB: number
  readonly heapUsedMiB: number
  readonly loopP99: number
  readonly passes: boolean
}

interface SoakSample {
  readonly t: number
  readonly load: WindowSummary
  readonly serverCpu: number
  readonly machineCpu: number
  readonly rssMiB: number
  readonly heapUsedMiB: number
  readonly heapTotalMiB: number
  /** Memory of C++ objects bound to JS ones, Buffers included. */
  readonly externalMiB: number
  /** Actors in memory (activated − passivated, from `/metrics`); undefined when the counters are not there. */
  readonly residentActors: number | undefined
  readonly loopP99: number
}

/** Actors in memory: the sum of `agora_actor_activations_total` minus that of `agora_actor_passivations_total`. */
const residentActors = async (base: string): Promise<number | undefined> => {
  const text = await (await fetch(`${base}/metrics`)).text()
  const sum = (name: string) => {
    const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)(?: \\d+)?$`, "gm"))].map((m) =>
      Number(m[1])
    )
    return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0)
  }
  const activations = sum("agora_actor_activations_total")
  return activations === undefined ? undefined : activations - (sum("agora_actor_passivations_total") ?? 0)
}

// ---------------------------------------------------------------------------------------------

const server = await startServer({
  database,
  nodeArgs: [
    "--import",
    probePath,
    ...(args.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${args.profile}`])
  ],
  env: {
    READ_MODEL_PREFIX: readModelPrefix,
    RATE_LIMIT_REDIS_PREFIX: rateLimitPrefix,
    SHIPPING_SIMULATOR: "on",
    SHIPPING_SIMULATOR_DELAY: "200 millis"
  },
  ipc: true
})
const pid = server.child.pid!
const to = target(server.base)
const serverCpu = cpuMeter(() => cpuSeconds(pid))
const benchCpu = cpuMeter(() => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1e6
})
const machineCpu = cpuMeter(() => machineCpuSeconds().busy)
const startMeters = () => {
  serverCpu.start()
  benchCpu.start()
  machineCpu.start()
}

const rows: Array<StepRow> = []
const samples: Array<SoakSample> = []
let soakTotal: WindowSummary | undefined
let soakStart: { rssMiB: number; heapUsedMiB: number; residentActors: number | undefined } | undefined
/** The heap in use just after each major GC of the soak: [s since its start, MiB]. */
const liveHeap: Array<readonly [number, number]> = []
let soakConcurrency = steps[0]!
let knee: StepRow | undefined

const measureStep = async (concurrency: number, users: Parameters<typeof runClients>[1]): Promise<StepRow> => {
  const recorder: Recorder = { windows: [] }
  const clients = runClients(to, users, concurrency, performance.now() + (settleSeconds + stepSeconds) * 1000, recorder)
  await sleep(settleSeconds * 1000)
  await askMemory(server.child) // resets the loop-delay histogram
  const window = new Window()
  recorder.windows = [window]
  startMeters()
  let rssMax = rssBytes(pid)
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, rssBytes(pid))
  }, 1000)
  await clients
  window.close()
  clearInterval(sampler)
  const cpu = { server: serverCpu.percent(), bench: benchCpu.percent(), machine: machineCpu.percent() }
  const memory = await askMemory(server.child)
  const rss = rssBytes(pid)
  const load = summarise(window)
  return {
    concurrency,
    load,
    serverCpu: cpu.server,
    benchCpu: cpu.bench,
    machineCpu: cpu.machine,
    rssMiB: mib(rss),
    rssMaxMiB: mib(Math.max(rssMax, rss)),
    heapUsedMiB: mib(memory.heapUsed),
    loopP99: memory.loopDelay.p99,
    // `requests` counts every answered request, failed ones too.
    passes: load.p99 <= p99LimitMs && load.errors <= maxErrorShare * Math.max(1, load.requests)
  }
}

try {
  log(`preparing ${userCount} users (registered, funded, one order each) and stock…`)
  const tokens = await prepareClients(server.base, userCount)
  const users = await prepareUsers(server.base, tokens, stock)

  const warmup = Math.min(16, Math.max(...steps))
  log(`warm-up: ${warmup} clients for ${warmupSeconds} s…`)
  await runClients(to, users, warmup, performance.now() + warmupSeconds * 1000, { windows: [] })

  for (const concurrency of steps) {
    log(`step: ${concurrency} clients for ${stepSeconds} s…`)
    const row = await measureStep(concurrency, users)
    rows.push(row)
    log(
      `  ${Math.round(row.load.rps)} req/s, p99 ${row.load.p99.toFixed(1)} ms, ${row.load.errors} failed, server CPU ${Math.round(row.serverCpu)}%`
    )
    if (!row.passes) break
    knee = row
  }
  soakConcurrency = knee?.concurrency ?? steps[0]!

  if (soakSeconds > 0) {
    log(`soak: ${soakConcurrency} clients for ${soakSeconds} s, a sample every ${sampleSeconds} s…`)
    const total = new Window()
    let current = new Window()
    const recorder: Recorder = { windows: [total, current] }
    const first = await askMemory(server.child)
    soakStart = {
      rssMiB: mib(rssBytes(pid)),
      heapUsedMiB: mib(first.heapUsed),
      residentActors: await residentActors(server.base)
    }
    startMeters()
    const begin = performance.now()
    const beginEpoch = Date.now()
    const deadline = begin + soakSeconds * 1000
    const clients = runClients(to, users, soakConcurrency, deadline, recorder)
    while (performance.now() < deadline - 100) {
      await sleep(Math.min(sampleSeconds * 1000, deadline - performance.now()))
      const window = current.close()
      current = new Window()
      recorder.windows = [total, current]
      const cpu = { server: serverCpu.percent(), machine: machineCpu.percent() }
      serverCpu.start()
      machineCpu.start()
      const memory = await askMemory(server.child)
      for (const gc of memory.afterMajorGc) liveHeap.push([(gc.at - beginEpoch) / 1000, mib(gc.heapUsed)])
      const sample: SoakSample = {
        t: (performance.now() - begin) / 1000,
        load: summarise(window),
        serverCpu: cpu.server,
        machineCpu: cpu.machine,
        rssMiB: mib(rssBytes(pid)),
        heapUsedMiB: mib(memory.heapUsed),
        heapTotalMiB: mib(memory.heapTotal),
        externalMiB: mib(memory.external),
        residentActors: await residentActors(server.base),
        loopP99: memory.loopDelay.p99
      }
      samples.push(sample)
      log(
        `  t=${Math.round(sample.t)} s: ${Math.round(sample.load.rps)} req/s, p99 ${sample.load.p99.toFixed(1)} ms, RSS ${sample.rssMiB.toFixed(1)} MiB, heap ${sample.heapUsedMiB.toFixed(1)} / ${sample.heapTotalMiB.toFixed(1)} MiB, actors ${sample.residentActors ?? "?"}`
      )
    }
    await clients
    for (const gc of (await askMemory(server.child)).afterMajorGc)
      liveHeap.push([(gc.at - beginEpoch) / 1000, mib(gc.heapUsed)])
    soakTotal = summarise(total.close())
  }
} finally {
  await server.stop()
  await deleteRedisKeys(redisUrl, [readModelPrefix, rateLimitPrefix])
  if (args.keep !== "true") await dropDatabase(database)
}

// ---------------------------------------------------------------------------------------------

const cores = availableParallelism()
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–")
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–")
console.log(
  `\nMixed load (${mix.map((m) => `${m.percent}% ${m.route}`).join(", ")}); ${userCount} users, closed-loop clients,` +
    ` ${stepSeconds} s per step after ${settleSeconds} s settling; p99 limit ${p99LimitMs} ms.` +
    `\nThe load generator is this process (node:http, keep-alive) on the same ${cores} cores as the server, PostgreSQL` +
    ` and Redis: its CPU is "bench CPU"; "machine CPU" is every process (other work on the machine too). 100% = one core.\n`
)
console.log(
  "| clients | req/s | p50 ms | p99 ms | failed | server CPU % | server RSS MiB (max) | heap used MiB | server loop p99 ms | bench CPU % | machine CPU % |"
)
console.log("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
for (const r of rows) {
  console.log(
    `| ${r.concurrency}${r === knee ? " (knee)" : r.passes ? "" : " (over)"} | ${Math.round(r.load.rps)} | ${f1(r.load.p50)} | ${f1(r.load.p99)} | ${errorText(r.load.errorsByStatus)} | ${Math.round(r.serverCpu)} | ${f1(r.rssMiB)} (${f1(r.rssMaxMiB)}) | ${f1(r.heapUsedMiB)} | ${f1(r.loopP99)} | ${Math.round(r.benchCpu)} | ${Math.round(r.machineCpu)} |`
  )
}

console.log("\nPer kind, each step:\n")
console.log("| clients | kind | req/s | p50 ms | p99 ms | failed |")
console.log("|---:|---|---:|---:|---:|---|")
const routeOf = (kind: Kind) => mix.find((m) => m.kind === kind)!.route
for (const r of rows) {
  for (const k of r.load.kinds) {
    console.log(
      `| ${r.concurrency} | ${routeOf(k.kind)} | ${Math.round(k.rps)} | ${f1(k.p50)} | ${f1(k.p99)} | ${errorText(k.errorsByStatus)} |`
    )
  }
}

const last = rows.at(-1)
if (knee === undefined) console.log(`\nKnee: none — the first step (${steps[0]} clients) already failed the limit.`)
else if (last === knee)
  console.log(
    `\nKnee: not reached — p99 stayed ≤ ${p99LimitMs} ms up to ${knee.concurrency} clients (${Math.round(knee.load.rps)} req/s); add larger --steps.`
  )
else
  console.log(
    `\nKnee: ${knee.concurrency} clients, ${Math.round(knee.load.rps)} req/s at p99 ${f1(knee.load.p99)} ms` +
      ` (server CPU ${Math.round(knee.serverCpu)}%, RSS ${f1(knee.rssMiB)} MiB); ${last?.concurrency} clients: p99 ${f1(last?.load.p99 ?? Number.NaN)} ms.`
  )

let rssSlope = Number.NaN
let heapSlope = Number.NaN
let liveHeapSlope = Number.NaN
let actorSlope = Number.NaN
if (samples.length > 0 && soakTotal !== undefined && soakStart !== undefined) {
  console.log(`\nSoak: ${soakConcurrency} clients for ${soakSeconds} s, a sample every ${sampleSeconds} s\n`)
  console.log(
    "| t s | req/s | p99 ms | failed | server CPU % | machine CPU % | RSS MiB | heap used / total MiB | external MiB | actors in memory | server loop p99 ms |"
  )
  console.log("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
  for (const s of samples) {
    console.log(
      `| ${Math.round(s.t)} | ${Math.round(s.load.rps)} | ${f1(s.load.p99)} | ${errorText(s.load.errorsByStatus)} | ${Math.round(s.serverCpu)} | ${Math.round(s.machineCpu)} | ${f1(s.rssMiB)} | ${f1(s.heapUsedMiB)} / ${f1(s.heapTotalMiB)} | ${f1(s.externalMiB)} | ${s.residentActors ?? "–"} | ${f1(s.loopP99)} |`
    )
  }
  // The second half: the first is warm-up (pools, JIT, the heap sizing itself, actors filling the runtime's cache).
  const half = soakSeconds / 2
  const secondHalf = samples.filter((s) => s.t >= half)
  rssSlope = slope(secondHalf.map((s) => [s.t / 60, s.rssMiB] as const))
  heapSlope = slope(secondHalf.map((s) => [s.t / 60, s.heapUsedMiB] as const))
  const liveSecondHalf = liveHeap.filter(([t]) => t >= half)
  liveHeapSlope = slope(liveSecondHalf.map(([t, heap]) => [t / 60, heap] as const))
  const actors = secondHalf.flatMap((s) =>
    s.residentActors === undefined ? [] : [[s.t / 60, s.residentActors] as const]
  )
  actorSlope = slope(actors)
  const rss = samples.map((s) => s.rssMiB)
  const heap = samples.map((s) => s.heapUsedMiB)
  const live = liveHeap.map(([, heap]) => heap)
  const bytesPerRequest = (flatMiBPerMin * 1024 * 1024) / (soakTotal.rps * 60)
  const verdict = (growth: number) =>
    Number.isNaN(growth) ? "unknown (too few points)" : growth < flatMiBPerMin ? "flat" : "GROWING"
  console.log(
    `\nSoak overall: ${Math.round(soakTotal.rps)} req/s, p50 ${f1(soakTotal.p50)} ms, p99 ${f1(soakTotal.p99)} ms, failed ${errorText(soakTotal.errorsByStatus)}.` +
      `\nRSS: start ${f1(soakStart.rssMiB)}, end ${f1(rss.at(-1)!)}, max ${f1(Math.max(...rss))} MiB;` +
      ` heap used (at the samples): start ${f1(soakStart.heapUsedMiB)}, end ${f1(heap.at(-1)!)}, max ${f1(Math.max(...heap))} MiB;` +
      ` heap in use after a major GC (${live.length} GCs): first ${f1(live[0] ?? Number.NaN)}, last ${f1(live.at(-1) ?? Number.NaN)}, max ${f1(live.length === 0 ? Number.NaN : Math.max(...live))} MiB;` +
      ` actors in memory: ${soakStart.residentActors ?? "?"} → ${samples.at(-1)!.residentActors ?? "?"}.` +
      `\nSlopes over the second half (t ≥ ${half} s): RSS ${f2(rssSlope)} MiB/min (${secondHalf.length} samples),` +
      ` heap used ${f2(heapSlope)} MiB/min, heap after major GC ${f2(liveHeapSlope)} MiB/min (${liveSecondHalf.length} GCs),` +
      ` actors in memory ${f1(actorSlope)}/min.` +
      `\nHeap in use after each major GC (s: MiB): ${liveHeap.map(([t, heap]) => `${Math.round(t)}: ${heap.toFixed(1)}`).join(", ") || "none"}.` +
      `\nVerdict: RSS ${verdict(rssSlope)}; live heap (after major GC) ${verdict(liveHeapSlope)}` +
      ` (flat: < ${flatMiBPerMin} MiB/min = ${bytesPerRequest.toFixed(1)} bytes per request at the soak's rate).`
  )
}

if (args.json === "true") {
  const soakRss = samples.map((s) => s.rssMiB)
  console.log(
    JSON.stringify({
      cores,
      users: userCount,
      step_seconds: stepSeconds,
      p99_limit_ms: p99LimitMs,
      knee_reached: knee !== undefined && knee !== last,
      knee_concurrency: knee?.concurrency ?? null,
      knee_rps: knee === undefined ? null : Math.round(knee.load.rps),
      knee_p50_ms: knee === undefined ? null : round(knee.load.p50, 1),
      knee_p99_ms: knee === undefined ? null : round(knee.load.p99, 1),
      knee_errors: knee?.load.errors ?? null,
      server_cpu_percent_at_knee: knee === undefined ? null : Math.round(knee.serverCpu),
      server_rss_mib_at_knee: knee === undefined ? null : round(knee.rssMiB, 1),
      server_heap_used_mib_at_knee: knee === undefined ? null : round(knee.heapUsedMiB, 1),
      bench_cpu_percent_at_knee: knee === undefined ? null : Math.round(knee.benchCpu),
      machine_cpu_percent_at_knee: knee === undefined ? null : Math.round(knee.machineCpu),
      soak_seconds: soakSeconds,
      soak_concurrency: soakConcurrency,
      soak_rps: soakTotal === undefined ? null : Math.round(soakTotal.rps),
      soak_p99_ms: soakTotal === undefined ? null : round(soakTotal.p99, 1),
      soak_errors: soakTotal?.errors ?? null,
      soak_rss_start_mib: soakStart === undefined ? null : round(soakStart.rssMiB, 1),
      soak_rss_end_mib: soakRss.length === 0 ? null : round(soakRss.at(-1)!, 1),
      soak_rss_max_mib: soakRss.length === 0 ? null : round(Math.max(...soakRss), 1),
      soak_rss_slope_mib_per_min: round(rssSlope, 2),
      soak_heap_slope_mib_per_min: round(heapSlope, 2),
      soak_heap_after_major_gc_slope_mib_per_min: round(liveHeapSlope, 2),
      soak_heap_after_major_gc_flat: Number.isFinite(liveHeapSlope) ? liveHeapSlope < flatMiBPerMin : null,
      soak_actors_in_memory_start: soakStart?.residentActors ?? null,
      soak_actors_in_memory_end: samples.at(-1)?.residentActors ?? null,
      soak_actors_in_memory_slope_per_min: round(actorSlope, 0),
      soak_memory_flat: Number.isFinite(rssSlope) ? rssSlope < flatMiBPerMin : null,
      steps: rows.map((r) => ({
        concurrency: r.concurrency,
        rps: Math.round(r.load.rps),
        p50_ms: round(r.load.p50, 1),
        p99_ms: round(r.load.p99, 1),
        errors: r.load.errors,
        server_cpu_percent: Math.round(r.serverCpu),
        server_rss_mib: round(r.rssMiB, 1),
        bench_cpu_percent: Math.round(r.benchCpu),
        machine_cpu_percent: Math.round(r.machineCpu)
      }))
    })
  )
}
process.exit(0)
