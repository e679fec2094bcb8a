/**
 * `pnpm bench:actors [--json]`: the actor runtime against a naive command
 * handler that loads the stream, folds it, decides and appends for every
 * command (retrying on conflict), in one run, on the PostgreSQL at
 * DATABASE_URL (default: the machine's). Scenarios: (a) one hot aggregate,
 * 16 clients; (b) 10,000 aggregates round-robin, 16 clients.
 */

import { randomUUID } from "node:crypto"
import { type Aggregate, fold } from "@agora/domain"
import { EventStore, ExpectedVersion, PgEventStore, Uuid } from "@agora/eventstore"
import * as BenchDatabase from "@agora/testkit/bench-database"
import { type LoadResult, parseArgs, runLoadEffect } from "@agora/testkit/load"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import { ActorRuntime, InProcessActorRuntime } from "../src/index.ts"
import { Counter, type CounterCommand, type CounterEvent } from "../test/fixtures/Counter.ts"

const args = parseArgs(process.argv.slice(2))
const benchUrl = await BenchDatabase.fresh("agora_bench_actors")

const runtime = ManagedRuntime.make(
  InProcessActorRuntime.layer().pipe(
    Layer.provideMerge(PgEventStore.layer()),
    Layer.provide(PgClient.layer({ url: Redacted.make(benchUrl), maxConnections: 16 })),
    Layer.orDie
  )
)
const { actors, store } = await runtime.runPromise(Effect.all({ actors: ActorRuntime, store: EventStore }))

const decodeEvent = Schema.decodeUnknownSync(Counter.eventSchema)
const encodeEvent = Schema.encodeSync(Counter.eventSchema)

/** What a handler without actors does for every command: load, fold, decide, append; reload on conflict. */
const naive = (aggregate: Aggregate<CounterCommand, CounterEvent, typeof Counter.initialState, unknown>) => {
  let conflicts = 0
  const send = (id: string, command: CounterCommand): Effect.Effect<void, unknown> =>
    Effect.gen(function* () {
      const streamId = `${aggregate.type}-${id}`
      for (let attempt = 0; attempt < 50; attempt++) {
        const stored = yield* store.readStream(streamId)
        const state = fold(
          aggregate,
          aggregate.initialState,
          stored.map((e) => decodeEvent({ ...(e.data as object), _tag: e.type }))
        )
        const decision = aggregate.decide(command, state)
        if (decision._tag === "Failure") return yield* Effect.fail(decision.failure)
        const events = decision.success.map((event) => {
          const { _tag, ...data } = encodeEvent(event) as { _tag: string }
          return { eventId: Uuid.v7(), type: _tag, data }
        })
        const ok = yield* store.append(streamId, ExpectedVersion.exact(stored.length), events).pipe(
          Effect.as(true),
          Effect.catchTag("WrongExpectedVersion", () =>
            Effect.sync(() => {
              conflicts++
              return false
            })
          )
        )
        if (ok) return
      }
      return yield* Effect.fail("gave up after 50 conflicts")
    })
  return { send, conflicts: () => conflicts }
}

const increment: CounterCommand = { _tag: "Increment", by: 1 }
const run = <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(Effect.orDie(effect))
const figures: Record<string, number> = {}
const rows: Array<[string, string, string, string]> = []
const fmt = (r: LoadResult) =>
  `${Math.round(r.opsPerS).toLocaleString("en-US")}/s p50 ${r.p50Ms.toFixed(2)} p99 ${r.p99Ms.toFixed(2)} ms`
const log = (line: string) => process.stderr.write(`${line}\n`)

// Warm-up.
await run(
  runLoadEffect({
    concurrency: 16,
    total: 2000,
    op: (i) => Effect.as(actors.send(Counter, `warm-${i}`, increment), true)
  })
)

// (a) one hot aggregate, 16 clients, 3 seconds each.
{
  const hotActor = randomUUID()
  const actor = await run(
    runLoadEffect({
      concurrency: 16,
      maxMs: 3000,
      op: () => Effect.as(actors.send(Counter, hotActor, increment), true)
    })
  )
  const handler = naive(Counter)
  const hotNaive = randomUUID()
  const plain = await run(
    runLoadEffect({
      concurrency: 16,
      maxMs: 3000,
      // A command that lost 50 races in a row is a failure the client sees (a 409): not counted as done.
      op: () =>
        handler.send(hotNaive, increment).pipe(
          Effect.as(true),
          Effect.catch(() => Effect.succeed(false))
        )
    })
  )
  rows.push([
    "(a) 1 hot aggregate, 16 clients",
    fmt(actor),
    `${fmt(plain)}, ${handler.conflicts()} conflicts, ${plain.errors} gave up`,
    `${(actor.opsPerS / plain.opsPerS).toFixed(2)}x`
  ])
  figures.actor_cmds_per_s_hot = actor.opsPerS
  figures.actor_p99_ms_hot = actor.p99Ms
  figures.naive_cmds_per_s_hot = plain.opsPerS
  figures.naive_p99_ms_hot = plain.p99Ms
  figures.ratio_hot = actor.opsPerS / plain.opsPerS
  log("(a) done")
}

// (a') the same, one client: no races for the naive handler, only its reads.
{
  const hotActor = randomUUID()
  const actor = await run(
    runLoadEffect({ concurrency: 1, maxMs: 3000, op: () => Effect.as(actors.send(Counter, hotActor, increment), true) })
  )
  const handler = naive(Counter)
  const hotNaive = randomUUID()
  const plain = await run(
    runLoadEffect({ concurrency: 1, maxMs: 3000, op: () => Effect.as(handler.send(hotNaive, increment), true) })
  )
  rows.push([
    "(a') 1 hot aggregate, 1 client",
    fmt(actor),
    fmt(plain),
    `${(actor.opsPerS / plain.opsPerS).toFixed(2)}x`
  ])
  figures.actor_cmds_per_s_hot_c1 = actor.opsPerS
  figures.naive_cmds_per_s_hot_c1 = plain.opsPerS
  log("(a') done")
}

// (b) 10,000 aggregates round-robin, 16 clients, 30,000 commands (each aggregate 3 times).
{
  const prefix = randomUUID().slice(0, 8)
  const actor = await run(
    runLoadEffect({
      concurrency: 16,
      total: 30_000,
      op: (i) => Effect.as(actors.send(Counter, `${prefix}a${i % 10_000}`, increment), true)
    })
  )
  const handler = naive(Counter)
  const plain = await run(
    runLoadEffect({
      concurrency: 16,
      total: 30_000,
      op: (i) => Effect.as(handler.send(`${prefix}n${i % 10_000}`, increment), true)
    })
  )
  rows.push([
    "(b) 10,000 aggregates round-robin, 16 clients",
    fmt(actor),
    fmt(plain),
    `${(actor.opsPerS / plain.opsPerS).toFixed(2)}x`
  ])
  figures.actor_cmds_per_s_spread = actor.opsPerS
  figures.actor_p99_ms_spread = actor.p99Ms
  figures.naive_cmds_per_s_spread = plain.opsPerS
  figures.naive_p99_ms_spread = plain.p99Ms
  figures.ratio_spread = actor.opsPerS / plain.opsPerS
  log("(b) done")
}

await runtime.dispose()
const widths = [46, 44, 56, 8]
const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")
console.log(
  `\nActor runtime benchmark — ${new Date().toISOString()} — PostgreSQL at ${new URL(BenchDatabase.serverUrl).host}\n`
)
console.log(line(["scenario", "actor runtime", "naive load-fold-append handler (same run)", "ratio"]))
console.log(widths.map((w) => "-".repeat(w)).join("-|-"))
for (const r of rows) console.log(line(r))
if (args.json !== undefined) {
  console.log(
    JSON.stringify(Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v * 100) / 100])))
  )
}
process.exit(0)
