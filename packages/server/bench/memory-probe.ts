/**
 * Loaded into the server process by `load.bench.ts`
 * (`node --import ./memory-probe.ts packages/server/src/main.ts`, with an IPC
 * channel): answers the benchmark's `{ type: "memory" }` with the process's
 * `memoryUsage()`, the heap in use just after each major GC since the last
 * request, and the event-loop delay over that time. The server exposes no
 * heap gauge on `/metrics`, and neither RSS nor a heap reading taken at a
 * random moment tells a leak from a heap that V8 lets grow before it
 * collects: what survives each major GC does. Asking costs the server one
 * small IPC message per sample. The server's code is unchanged on disk.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"

export interface MemoryRequest {
  readonly type: "memory"
}

export interface MemoryReply {
  readonly type: "memory"
  /** Bytes, as `process.memoryUsage()` tells them. */
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  readonly arrayBuffers: number
  /** After each major GC since the last request: when (epoch ms) and the heap in use then (bytes). */
  readonly afterMajorGc: ReadonlyArray<{ readonly at: number; readonly heapUsed: number }>
  /** The server's event-loop delay since the last request, in ms: how long ready work waited for the thread. */
  readonly loopDelay: { readonly p50: number; readonly p99: number; readonly max: number }
}

const loop = monitorEventLoopDelay({ resolution: 1 })
loop.enable()
const ms = (ns: number) => Math.round(ns / 1e4) / 100

// Entries arrive shortly after their GC, so the reading includes what was allocated since: a little high.
let afterMajorGc: Array<{ at: number; heapUsed: number }> = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    // A GC entry's `detail` ({ kind, flags }) is not in the `PerformanceEntry` type.
    const { detail } = entry as { readonly detail?: { readonly kind?: number } }
    if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
      afterMajorGc.push({ at: Date.now(), heapUsed: process.memoryUsage().heapUsed })
  }
}).observe({ entryTypes: ["gc"] })

process.on("message", (message: MemoryRequest) => {
  if (message?.type !== "memory") return
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage()
  const loopDelay = { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) }
  loop.reset()
  const reply: MemoryReply = {
    type: "memory",
    rss,
    heapUsed,
    heapTotal,
    external,
    arrayBuffers,
    afterMajorGc,
    loopDelay
  }
  afterMajorGc = []
  process.send?.(reply)
})
// The channel must not keep the server alive once it is asked to stop.
process.channel?.unref()
