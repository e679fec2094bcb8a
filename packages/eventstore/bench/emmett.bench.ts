/**
 * Emmett's PostgreSQL event store under the same scenarios as Agora's, run as
 * a child process of eventstore.bench.ts so both are measured in one run.
 * Prints one JSON line. Emmett is a dev dependency of the benchmark only.
 */

import { parseArgs, payload, runLoad } from "@agora/testkit/load"
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql"
import pg from "pg"

const args = parseArgs(process.argv.slice(2))
const url = args.url!
const scenario = args.scenario ?? "streams"
const concurrency = Number(args.concurrency ?? 16)
const pool = new pg.Pool({ connectionString: url, max: Math.max(concurrency, 1) })
const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } })
const run = Math.random().toString(36).slice(2, 8)
const event = (type = "OrderPlaced") => ({ type, data: payload })

await store.schema.migrate()
await store.schema.dangerous.truncate()
await runLoad({
  concurrency,
  total: concurrency * 5,
  op: (i) => store.appendToStream(`warm-${run}-${i}`, [event()]).then(() => true)
})

let result: Record<string, number>
if (scenario === "streams") {
  const r = await runLoad({
    concurrency,
    total: Number(args.streams ?? 10_000),
    op: (i) => store.appendToStream(`order-${run}-${i}`, [event()]).then(() => true)
  })
  result = { appends_per_s: r.opsPerS, p50_ms: r.p50Ms, p99_ms: r.p99Ms }
} else if (scenario === "read") {
  const stream = `order-${run}-big`
  for (let k = 0; k < 10; k++)
    await store.appendToStream(
      stream,
      Array.from({ length: 100 }, () => event("OrderLineAdded"))
    )
  const r = await runLoad({
    concurrency: 1,
    maxMs: 3000,
    op: async () => (await store.readStream(stream)).events.length === 1000
  })
  result = { events_per_s: r.opsPerS * 1000, p50_ms: r.p50Ms, p99_ms: r.p99Ms }
} else throw new Error(`unknown scenario ${scenario}`)

console.log(JSON.stringify({ scenario, concurrency, ...result }))
await store.close()
await pool.end().catch(() => undefined)
process.exit(0)
