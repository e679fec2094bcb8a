/**
 * `pnpm replay`: prints the events of the global log from a position, in
 * order, filtered by stream, stream type and event type — one line per event,
 * or JSON lines with `--json`. Reading goes through `LogReader` a page at a
 * time, so it runs over any length of log in constant memory; progress and
 * the summary go to stderr.
 */

import { ReadModels } from "@agora/app"
import type { EventStore, EventStoreError, RecordedEvent } from "@agora/eventstore"
import { type Projection, type ReadModelError, type ReadModelStore, Refeed, type StaleCommit } from "@agora/readmodels"
import { Effect, Stream } from "effect"
import * as Aggregates from "./Aggregates.ts"
import { exitCodes, integerOption, parse, type Script, UsageError } from "./Cli.ts"
import * as EventFormat from "./EventFormat.ts"
import * as LogReader from "./LogReader.ts"
import { Output } from "./Output.ts"
import * as Progress from "./Progress.ts"

export interface ReplayArgs {
  readonly from: number
  readonly to: number | undefined
  readonly filter: LogReader.LogFilter
  readonly limit: number | undefined
  readonly pageSize: number
  readonly json: boolean
  /** Re-feed to this projection instead of printing. */
  readonly project: Projection | undefined
}

const projectionNamed = (name: string | undefined) => {
  if (name === undefined) return Effect.succeed(undefined)
  const found = ReadModels.projections.find((p) => p.name === name)
  return found === undefined
    ? Effect.fail(
        new UsageError({
          message: `unknown projection ${name} (known: ${ReadModels.projections.map((p) => p.name).join(", ")})`
        })
      )
    : Effect.succeed(found)
}

export const usage = `
Usage: pnpm replay [--from POSITION] [--to POSITION] [--stream STREAM_ID] [--stream-type TYPE]...
                   [--type EVENT_TYPE]... [--limit N] [--json]

Prints the events of the global log from a position, in order: one line per event
(position, stream, version, type, compact data), or one JSON object per line with --json.

  --from POSITION      first position, inclusive (default 1)
  --to POSITION        last position, inclusive (default: the head when the replay starts)
  --stream STREAM_ID   only this stream, e.g. order-0193c0de-...
  --stream-type TYPE   only streams of this type (${Aggregates.streamTypes.join(", ")}); repeatable
  --type EVENT_TYPE    only this event type, e.g. OrderPlaced; repeatable
  --limit N            stop after printing N events
  --page-size N        events read per query (default 1000)
  --json               JSON lines: position, stream_id, stream_type, version, event_id, type,
                       recorded_at, data, metadata
  -h, --help           this help

Progress is drawn on stderr when it is a terminal; a summary line (events scanned and printed,
time, events/s) ends the run on stderr. Runs on DATABASE_URL, or the embedded PostgreSQL in
.data/pg (stop the server first).

  --project NAME       re-feed the selected events to a read model (${ReadModels.projections.map((p) => p.name).join(", ")})
                       instead of printing them: its live generation in Redis (REDIS_URL), at the checkpoint
                       it is at. A document is only ever replaced by a newer version, so feeding a stream
                       from its first event rebuilds its document, and events it has already applied change
                       nothing. Safe while the server runs.
`

const parseReplay = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { values, positionals } = yield* parse(argv, {
      options: {
        from: { type: "string" },
        to: { type: "string" },
        stream: { type: "string" },
        "stream-type": { type: "string", multiple: true },
        type: { type: "string", multiple: true },
        limit: { type: "string" },
        "page-size": { type: "string" },
        json: { type: "boolean", default: false },
        project: { type: "string" }
      },
      allowPositionals: true
    })
    if (positionals.length > 0) {
      return yield* new UsageError({ message: `unexpected argument: ${positionals.join(" ")}` })
    }
    const from = (yield* integerOption("from", values.from, 1)) ?? 1
    const to = yield* integerOption("to", values.to, 1)
    if (to !== undefined && to < from) {
      return yield* new UsageError({ message: `--to ${to} is before --from ${from}` })
    }
    const unknownTypes = (values["stream-type"] ?? []).filter((t) => Aggregates.byType(t) === undefined)
    if (unknownTypes.length > 0) {
      return yield* new UsageError({
        message: `unknown stream type ${unknownTypes.join(", ")} (known: ${Aggregates.streamTypes.join(", ")})`
      })
    }
    const streamTypes = values["stream-type"]?.map((t) => Aggregates.byType(t)!.aggregate.type)
    const filter: LogReader.LogFilter = {
      ...(values.stream === undefined ? {} : { streamId: values.stream }),
      ...(streamTypes === undefined ? {} : { streamTypes }),
      ...(values.type === undefined ? {} : { eventTypes: values.type })
    }
    return {
      from,
      to,
      filter,
      limit: yield* integerOption("limit", values.limit, 1),
      pageSize: (yield* integerOption("page-size", values["page-size"], 1)) ?? 1000,
      json: values.json,
      project: yield* projectionNamed(values.project)
    } satisfies ReplayArgs
  })

/** Re-feeds the selected events to a projection; prints a summary. */
const project = (args: ReplayArgs, projection: Projection) =>
  Effect.gen(function* () {
    const watch = yield* Progress.stopwatch
    const read = yield* LogReader.open({
      from: args.from,
      ...(args.to === undefined ? {} : { to: args.to }),
      pageSize: args.pageSize,
      filter: args.filter
    })
    const progress = yield* Progress.make({
      label: `replay → ${projection.name}`,
      total: read.expected,
      unit: "events"
    })
    let fed = 0
    const pages = read.pages.pipe(
      Stream.tap((page) => progress.advance(page.scanned)),
      Stream.map((page) => {
        const room = args.limit === undefined ? page.events.length : Math.max(0, args.limit - fed)
        const events = page.events.length > room ? page.events.slice(0, room) : page.events
        fed += events.length
        return events
      })
    )
    const report = yield* Refeed.refeed(projection, pages)
    yield* progress.done
    yield* Progress.printSummary({
      label: `replay → ${projection.name}`,
      counts: [
        ["fed", report.events],
        ["applied", report.applied]
      ],
      unit: "events",
      elapsedMillis: yield* watch.elapsed,
      notes: [
        `generation ${report.generation}`,
        `${Progress.count(report.writes)} writes`,
        ...(report.parked > 0 ? [`${report.parked} parked again (still not applicable)`] : [])
      ]
    })
    return exitCodes.ok
  })

/** Prints the selected events (or re-feeds them); 0 when the read is complete, however many it printed. */
export const replay = (
  args: ReplayArgs
): Effect.Effect<number, EventStoreError | ReadModelError | StaleCommit, EventStore | ReadModelStore | Output> =>
  Effect.gen(function* () {
    if (args.project !== undefined) return yield* project(args, args.project)
    const output = yield* Output
    const watch = yield* Progress.stopwatch
    const read = yield* LogReader.open({
      from: args.from,
      ...(args.to === undefined ? {} : { to: args.to }),
      pageSize: args.pageSize,
      filter: args.filter
    })
    const progress = yield* Progress.make({ label: "replay", total: read.expected, unit: "events" })
    const width = String(read.to).length
    const format = (e: RecordedEvent) =>
      args.json ? JSON.stringify(EventFormat.toJson(e)) : EventFormat.toLine(e, width)
    let scanned = 0
    let printed = 0
    yield* read.pages.pipe(
      Stream.runForEachWhile((page) =>
        Effect.gen(function* () {
          scanned += page.scanned
          const room = args.limit === undefined ? page.events.length : args.limit - printed
          const events = page.events.length > room ? page.events.slice(0, room) : page.events
          printed += events.length
          if (events.length > 0) yield* progress.above(output.out(`${events.map(format).join("\n")}\n`))
          yield* progress.advance(page.scanned)
          return args.limit === undefined || printed < args.limit
        })
      )
    )
    yield* progress.done
    yield* Progress.printSummary({
      label: "replay",
      counts: [
        ["scanned", scanned],
        ["printed", printed]
      ],
      unit: "events",
      elapsedMillis: yield* watch.elapsed,
      notes: [read.from > read.to ? `nothing at or after position ${read.from}` : `positions ${read.from}..${read.to}`]
    })
    return exitCodes.ok
  })

export const script: Script<
  ReplayArgs,
  EventStoreError | ReadModelError | StaleCommit,
  EventStore | ReadModelStore | Output
> = {
  usage,
  parse: parseReplay,
  run: replay
}
