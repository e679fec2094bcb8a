/**
 * A closed-loop load generator shared by the benchmarks: `concurrency`
 * workers run `op` back to back until `total` ops started or `maxMs` passed,
 * recording each op's latency.
 */
import { Effect } from "effect"
export interface LoadResult {
  readonly ops: number
  readonly errors: number
  readonly elapsedS: number
  readonly opsPerS: number
  readonly p50Ms: number
  readonly p99Ms: number
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

interface LoadOptions {
  readonly concurrency: number
  readonly total?: number
  readonly maxMs?: number
}

const summarize = (latencies: ReadonlyArray<number>, errors: number, started: number): LoadResult => {
  const elapsedS = (performance.now() - started) / 1000
  const sorted = Float64Array.from(latencies).sort()
  return {
    ops: latencies.length,
    errors,
    elapsedS,
    opsPerS: latencies.length / elapsedS,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99)
  }
}

/** For promise-based stores (the peers). `op` returns false when it did not succeed (counted, not timed). */
export const runLoad = async (
  options: LoadOptions & { readonly op: (i: number, worker: number) => Promise<boolean> }
): Promise<LoadResult> => {
  const total = options.total ?? Number.POSITIVE_INFINITY
  const deadline = performance.now() + (options.maxMs ?? 30_000)
  const latencies: Array<number> = []
  let next = 0
  let errors = 0
  const started = performance.now()
  const worker = async (w: number) => {
    while (next < total && performance.now() < deadline) {
      const i = next++
      const t0 = performance.now()
      const ok = await options.op(i, w)
      if (ok === false) errors++
      else latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)))
  return summarize(latencies, errors, started)
}

/**
 * The same loop for Effect-based stores, run inside the Effect runtime as the
 * server's own callers are (a promise round trip per op would measure the
 * bridge, not the store).
 */
export const runLoadEffect = <E>(
  options: LoadOptions & { readonly op: (i: number) => Effect.Effect<boolean, E> }
): Effect.Effect<LoadResult, E> =>
  Effect.suspend(() => {
    const total = options.total ?? Number.POSITIVE_INFINITY
    const deadline = performance.now() + (options.maxMs ?? 30_000)
    const latencies: Array<number> = []
    let next = 0
    let errors = 0
    const started = performance.now()
    const worker: Effect.Effect<void, E> = Effect.suspend(() => {
      if (next >= total || performance.now() >= deadline) return Effect.void
      const i = next++
      const t0 = performance.now()
      return Effect.flatMap(options.op(i), (ok) => {
        if (ok === false) errors++
        else latencies.push(performance.now() - t0)
        return worker
      })
    })
    return Effect.as(
      Effect.forEach(Array.from({ length: options.concurrency }), () => worker, {
        concurrency: "unbounded",
        discard: true
      }),
      undefined
    ).pipe(Effect.map(() => summarize(latencies, errors, started)))
  })

/** The ~300-byte order payload every scenario appends. */
export const payload = {
  orderId: "ord_01HZX3K9V7Q2M8N4P6R5T1W0YB",
  customerId: "cus_7f3a9c2e4b1d",
  currency: "EUR",
  items: [
    { sku: "SKU-100234", qty: 2, unitPrice: 1999 },
    { sku: "SKU-204871", qty: 1, unitPrice: 4550 }
  ],
  total: 8548,
  shipTo: { city: "Paris", postalCode: "75002", country: "FR" },
  placedAt: "2024-05-14T10:22:31.123Z"
}

/** `--key=value` and `--flag` arguments. */
export const parseArgs = (argv: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const arg of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(arg)
    if (m) out[m[1]!] = m[2] ?? "true"
  }
  return out
}
