/**
 * `pnpm rebuild [PROJECTION|all]`: rebuilds read models from the event store
 * into a fresh generation (blue/green), compares it with the live one,
 * reports every difference, then switches the live pointer to it atomically
 * and drops the old generation after a grace period. Safe while the server
 * runs: its projection runner follows the switch by itself (see
 * `@agora/readmodels` `Rebuild`).
 *
 * Exit codes: 0 rebuilt (and, unless `--dry-run`, switched) with no
 * difference; 3 the live model differed from the log (it was still switched
 * unless `--dry-run`: the rebuilt one is the log's truth).
 */
import { ReadModels } from "@agora/app"
import type { EventStore } from "@agora/eventstore"
import { ReadModelConfig, type ReadModelStore, Rebuild } from "@agora/readmodels"
import { Effect, Layer } from "effect"
import { exitCodes, integerOption, parse, type Script, Stores, UsageError } from "./Cli.ts"
import { Output } from "./Output.ts"
import * as Progress from "./Progress.ts"

export interface RebuildArgs {
  readonly projections: ReadonlyArray<string>
  readonly dryRun: boolean
  readonly batchSize: number
  readonly json: boolean
}

const names = ReadModels.projections.map((p) => p.name)

export const usage = `
Usage: pnpm rebuild [PROJECTION|all] [--dry-run] [--batch-size N] [--json]

Rebuilds read models from the event store into a fresh generation, compares the result with the
live generation (documents at the same version must be equal, indexes must hold the same
members), prints every difference, then switches the live pointer to the new generation and
drops the old one a few seconds later. Safe while the server runs.

  PROJECTION       ${names.join(", ")}, or all (default)
  --dry-run        build and compare only: the live generation stays, the new one is dropped
  --batch-size N   events per page and per commit (default 5000)
  --json           one JSON report per projection on stdout
  -h, --help       this help

Read models live in Redis when REDIS_URL is set (keys under READ_MODEL_PREFIX, default
agora:rm:); without it they are kept in the server's process and rebuilt on each start, so this
command only checks that the log projects cleanly. Events come from DATABASE_URL, or the
embedded PostgreSQL in .data/pg (stop the server first).
Exit code 3: the live model differed from the log.
`

const parseRebuild = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { values, positionals } = yield* parse(argv, {
      options: {
        "dry-run": { type: "boolean", default: false },
        "batch-size": { type: "string" },
        json: { type: "boolean", default: false }
      },
      allowPositionals: true
    })
    if (positionals.length > 1) return yield* new UsageError({ message: `one projection at a time, or all` })
    const wanted = positionals[0] ?? "all"
    if (wanted !== "all" && !names.includes(wanted)) {
      return yield* new UsageError({ message: `unknown projection ${wanted} (known: ${names.join(", ")}, all)` })
    }
    return {
      projections: wanted === "all" ? names : [wanted],
      dryRun: values["dry-run"],
      batchSize: (yield* integerOption("batch-size", values["batch-size"], 1)) ?? 5_000,
      json: values.json
    }
  })

const describe = (report: Rebuild.RebuildReport): ReadonlyArray<string> => [
  `${report.switched ? "switched to the new generation" : "live generation kept"}`,
  `${Progress.count(report.docs)} documents, ${Progress.count(report.indexes)} indexes; ${Progress.count(report.equal)} equal, ${Progress.count(report.coldInLive)} not held live (expired or never read), ${report.differences.length} different`,
  ...(report.parked > 0 ? [`${report.parked} events parked (see the projection's @parked index)`] : []),
  `${Progress.count(report.dropped)} keys of the old generation dropped`
]

const run = (args: RebuildArgs) =>
  Effect.gen(function* () {
    const output = yield* Output
    let differed = false
    for (const name of args.projections) {
      const projection = ReadModels.projections.find((p) => p.name === name)!
      const progress = yield* Progress.make({ label: `rebuild ${name}`, total: 0, unit: "events" })
      let seen = 0
      const report = yield* Rebuild.rebuild(projection, {
        batchSize: args.batchSize,
        dryRun: args.dryRun,
        onProgress: ({ events }) => {
          const step = events - seen
          seen = events
          Effect.runSync(progress.advance(step))
        }
      })
      yield* progress.done
      if (report.differences.length > 0) differed = true
      if (args.json) {
        yield* output.out(`${JSON.stringify(report)}\n`)
      } else {
        for (const difference of report.differences.slice(0, 50)) {
          yield* output.out(
            `${name}: ${difference.kind} ${difference.key}\n  live:    ${difference.live ?? "(none)"}\n  rebuilt: ${difference.rebuilt ?? "(none)"}\n`
          )
        }
        if (report.differences.length > 50) yield* output.out(`${name}: … ${report.differences.length - 50} more\n`)
      }
      yield* Progress.printSummary({
        label: `rebuild ${name}`,
        counts: [["projected", report.events]],
        unit: "events",
        elapsedMillis: report.elapsedMs,
        notes: describe(report)
      })
    }
    return differed ? exitCodes.inconsistent : exitCodes.ok
  })

export const script: Script<RebuildArgs, unknown, EventStore | ReadModelStore | Output> = {
  usage,
  parse: parseRebuild,
  run
}

/** The event store the server uses, and its read-model store. */
export const layer = Layer.mergeAll(Stores, ReadModelConfig.layerFromConfig)
