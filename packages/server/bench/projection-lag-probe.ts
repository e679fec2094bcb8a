/**
 * Loaded into the server process by `projections.bench.ts`
 * (`node --import ./projection-lag-probe.ts packages/server/src/main.ts`,
 * with an IPC channel): records the exact lag of every event each projection
 * commits, as the projection runner itself measures it, and hands them to the
 * benchmark when asked. The server's code is unchanged on disk.
 *
 * The runner already reports each committed page to `RunnerOptions.onCommit`
 * (per handled event: the commit's time − the event's `recorded_at`, in ms —
 * the same numbers it puts in `agora_projection_lag_seconds`), but the server
 * composes its runner without one. A module hook therefore rewrites that one
 * call in `ProjectionRunner.ts` as the module loads, so that with no
 * `onCommit` the probe's is called; and, to tell where a lag goes, it notes
 * when each page reached the runner (read from the log, before its documents
 * are loaded, applied and committed). If either line is not found the hook
 * fails the server's start, rather than measure nothing.
 *
 * Protocol (IPC): the benchmark sends `{ type: "lags" }`; the probe answers
 * `{ type: "lags", commits, loopDelay }`: every commit since the last request,
 * and the server's event-loop delay over that time (how long work that was
 * ready waited for the thread).
 */
import { registerHooks } from "node:module"
import { monitorEventLoopDelay } from "node:perf_hooks"

/** One committed page: the projection, when (epoch ms, just after the commit) and each handled event's lag. */
export interface ProbeCommit {
  readonly projection: string
  readonly at: number
  /** When the page reached the runner (epoch ms): `at − readAt` of every lag was spent in the runner. */
  readonly readAt: number
  readonly lagsMs: ReadonlyArray<number>
}

export interface ProbeRequest {
  readonly type: "lags"
}

export interface ProbeReply {
  readonly type: "lags"
  readonly commits: ReadonlyArray<ProbeCommit>
  /** The server's event-loop delay since the last request, in ms. */
  readonly loopDelay: { readonly p50: number; readonly p99: number; readonly max: number }
}

const runnerPath = "/packages/readmodels/src/ProjectionRunner.ts"
const commitHook = "__agoraProjectionLagProbe"
const readHook = "__agoraProjectionPageProbe"
/** Each line the probe rewrites, and what it becomes. */
const patches: ReadonlyArray<readonly [string, string]> = [
  ["options.onCommit?.(", `(options.onCommit ?? globalThis.${commitHook})?.(`],
  [
    "const keys = keysToLoad(projection, page, working)",
    `globalThis.${readHook}(projection.name); const keys = keysToLoad(projection, page, working)`
  ]
]

let patched = false
registerHooks({
  load(url, context, nextLoad) {
    const result = nextLoad(url, context)
    if (!url.endsWith(runnerPath)) return result
    let source = String(result.source)
    for (const [line, replacement] of patches) {
      if (source.split(line).length !== 2)
        throw new Error(`projection-lag-probe: "${line}" not found once in ${url}; update the probe`)
      source = source.replace(line, replacement)
    }
    patched = true
    return { ...result, source }
  }
})

let commits: Array<ProbeCommit> = []
const pageReadAt = new Map<string, number>()
Object.assign(globalThis, {
  [readHook]: (projection: string) => {
    pageReadAt.set(projection, Date.now())
  },
  [commitHook]: (batch: { readonly projection: string; readonly lagsMs: ReadonlyArray<number> }) => {
    if (batch.lagsMs.length === 0) return
    const at = Date.now()
    commits.push({
      projection: batch.projection,
      at,
      readAt: pageReadAt.get(batch.projection) ?? at,
      lagsMs: batch.lagsMs
    })
  }
})

const loop = monitorEventLoopDelay({ resolution: 1 })
loop.enable()
const ms = (ns: number) => Math.round(ns / 1e4) / 100

process.on("message", (message: ProbeRequest) => {
  if (message?.type !== "lags") return
  if (!patched) throw new Error("projection-lag-probe: the projection runner was never loaded")
  const loopDelay = { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) }
  loop.reset()
  const reply: ProbeReply = { type: "lags", commits, loopDelay }
  commits = []
  process.send?.(reply)
})
// The channel must not keep the server alive once it is asked to stop.
process.channel?.unref()
