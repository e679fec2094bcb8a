/**
 * `node packages/readmodels/bench/commit.bench.ts [--json]`: the Redis store
 * at REDIS_URL (default 127.0.0.1:6379), under a fresh prefix deleted after.
 * (a) a rebuild: 100,000 events (a ~300-byte document and an index entry
 * each) committed in batches, several batches in flight; (b) one-key
 * `getDocs` on the active generation, sequential, for the hot read path.
 */
import { Clock, Effect } from "effect"
import type { Write } from "../src/index.ts"
import { makeRedisStore } from "../test/testing.ts"

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
const json = process.argv.includes("--json")
const events = 100_000
const payload = JSON.stringify({
  orderId: "0192f0c4-5d2e-7b3a-9c1d-2e3f4a5b6c7d",
  userId: "0192f0c4-0000-7b3a-9c1d-2e3f4a5b6c7d",
  status: "placed",
  lines: [
    { sku: "SKU-00042", qty: 2, unitPrice: 1999 },
    { sku: "SKU-00077", qty: 1, unitPrice: 4999 }
  ],
  total: 8997,
  currency: "EUR",
  placedAt: "2026-11-23T10:00:00.000Z"
})

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

const program = Effect.gen(function* () {
  const rows: Array<Record<string, string | number>> = []
  for (const [batch, inFlight] of [
    [2_000, 1],
    [2_000, 4],
    [5_000, 1],
    [5_000, 4]
  ] as const) {
    const { store } = yield* makeRedisStore(url)
    const g1 = { projection: "orders", generation: yield* store.activeGeneration("orders") }
    const started = yield* Clock.currentTimeMillis
    yield* Effect.forEach(
      Array.from({ length: events / batch }, (_, b) => b),
      (b) => {
        const writes: Array<Write> = []
        for (let i = b * batch; i < (b + 1) * batch; i++) {
          writes.push({ _tag: "Put", key: `order:${i}`, version: 1, json: payload })
          writes.push({ _tag: "IndexAdd", key: `user:${i % 1000}`, member: `order:${i}`, score: i })
        }
        return store.commit(g1, {
          expectedCheckpoint: b * batch,
          checkpoint: (b + 1) * batch,
          writes,
          requireActive: true
        })
      },
      { concurrency: inFlight }
    )
    const millis = (yield* Clock.currentTimeMillis) - started
    rows.push({
      scenario: `rebuild, batches of ${batch}, ${inFlight} in flight`,
      events_per_s: Math.round((events * 1000) / millis)
    })

    if (batch === 5_000 && inFlight === 4) {
      const latencies: Array<number> = []
      for (let i = 0; i < 5_000; i++) {
        const t0 = performance.now()
        yield* store.getDocs({ projection: "orders" }, [`order:${(i * 7919) % events}`])
        latencies.push(performance.now() - t0)
      }
      latencies.sort((a, b) => a - b)
      rows.push({
        scenario: "getDocs, one key, sequential",
        p50_ms: Number(percentile(latencies, 0.5).toFixed(3)),
        p99_ms: Number(percentile(latencies, 0.99).toFixed(3))
      })
    }
  }
  if (json) console.log(JSON.stringify(rows))
  else console.table(rows)
})

await Effect.runPromise(Effect.scoped(program))
