/**
 * `pnpm inspect STREAM`: one stream's events, its latest snapshot, and its
 * current state folded by its aggregate's decider from the events. A snapshot
 * the runtime would use is checked: it plus the events after it must fold to
 * the same state as the whole stream, or the runtime would activate actors
 * into a state the events do not give.
 *
 * The stream is read a page at a time and folded as it is read (both from the
 * start and from the snapshot), so only the events shown are kept.
 */
import { EventStore, type EventStoreError, type RecordedEvent, SnapshotStore, streamTypeOf } from "@agora/eventstore"
import { Effect, Option, Result, Schema } from "effect"
import * as Aggregates from "./Aggregates.ts"
import { exitCodes, integerOption, parse, type Script, UsageError } from "./Cli.ts"
import * as EventFormat from "./EventFormat.ts"
import { Output } from "./Output.ts"

export interface InspectArgs {
  readonly aggregate: Aggregates.Entry
  readonly id: string
  readonly json: boolean
  /** Show only the last N events (all are folded). */
  readonly last: number | undefined
}

/** What a snapshot check found. */
export type SnapshotCheck =
  /** Snapshot + later events fold to the stream's state. */
  | "consistent"
  /** They fold to another state: the runtime would activate into the wrong state. */
  | "inconsistent"
  /** Taken at an older state version: the runtime ignores it and folds the whole stream. */
  | "stale"
  /** The current state schema cannot read it (the runtime ignores it). */
  | "unreadable"
  /** Taken at a version the stream has not reached. */
  | "ahead"
  /** Not checked: the stream itself could not be folded. */
  | "unchecked"

export interface SnapshotReport {
  readonly version: number
  readonly stateVersion: number
  readonly codeStateVersion: number
  readonly stale: boolean
  readonly check: SnapshotCheck
  /** Events after the snapshot's version. */
  readonly laterEvents: number
}

export interface InspectReport {
  readonly streamId: string
  readonly streamType: string
  readonly aggregate: string
  readonly version: number
  /** The events shown (all, or the last N). */
  readonly events: ReadonlyArray<RecordedEvent>
  readonly snapshot: SnapshotReport | undefined
  /** The folded state, encoded as its snapshots are (undefined when it could not be folded). */
  readonly state: unknown
  /** What is wrong with the stream or its snapshot, in words. */
  readonly problems: ReadonlyArray<string>
}

export const usage = `
Usage: pnpm inspect STREAM_ID [--json] [--last N]
       pnpm inspect TYPE ID [--json] [--last N]

Shows one stream: its events (version, position, type, recorded_at, data), its latest snapshot
(version, state version, and whether it is stale for this code), and its current state folded
from the events by the aggregate's decider. A snapshot the runtime would use is checked: the
snapshot plus the events after it must fold to the same state.

  STREAM_ID   e.g. order-0193c0de-..., account-<user id>, inventory-BRK-PAD-FR-001
  TYPE ID     e.g. order 0193c0de-..., email alice@demo.agora
              types: ${Aggregates.streamTypes.join(", ")}
              (also payment-account, inventory-item, email-claim, saga)
  --json      one JSON object instead of text
  --last N    show only the last N events (the state is still folded from all of them)
  -h, --help  this help

Exit code: 0 shown, 1 unknown stream type or no such stream, 2 usage, 3 a problem found
(an event that cannot be decoded, a snapshot that disagrees with the events).
Runs on DATABASE_URL, or the embedded PostgreSQL in .data/pg (stop the server first).
`

const parseInspect = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { values, positionals } = yield* parse(argv, {
      options: { json: { type: "boolean", default: false }, last: { type: "string" } },
      allowPositionals: true
    })
    const last = yield* integerOption("last", values.last, 0)
    const [first, second, ...rest] = positionals
    if (first === undefined || rest.length > 0) {
      return yield* new UsageError({ message: "give one stream id (order-<id>) or a type and an id (order <id>)" })
    }
    const type = second === undefined ? streamTypeOf(first) : first
    if (second === undefined && type === first) {
      return yield* new UsageError({ message: `"${first}" is not a stream id (<type>-<id>); give a type and an id` })
    }
    const aggregate = Aggregates.byType(type)
    if (aggregate === undefined) {
      return yield* new UsageError({
        message: `Unknown stream type "${type}". Known types: ${Aggregates.streamTypes.join(", ")} (stream ids are <type>-<id>).`,
        exitCode: exitCodes.notFound
      })
    }
    const id = second ?? first.slice(type.length + 1)
    return { aggregate, id, json: values.json, last } satisfies InspectArgs
  })

/** Object keys in order, so two encodings of one state compare equal whatever order their keys came in. */
const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v
  )

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const pageSize = 1000

/** Reads and folds a stream. */
export const inspect = (
  args: Pick<InspectArgs, "aggregate" | "id" | "last">
): Effect.Effect<InspectReport, EventStoreError, EventStore | SnapshotStore> =>
  Effect.gen(function* () {
    const entry = args.aggregate
    const { aggregate } = entry
    const streamId = `${aggregate.type}-${Aggregates.canonicalId(aggregate, args.id)}`
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const decodeEvent = Schema.decodeUnknownResult(aggregate.eventSchema)
    const decodeState = Schema.decodeUnknownResult(aggregate.stateSchema)
    const encodeState = Schema.encodeResult(aggregate.stateSchema)
    const problems: Array<string> = []

    const stored = yield* snapshots.load(streamId)
    const snapshot = Option.getOrUndefined(stored)
    const stale = snapshot !== undefined && snapshot.schemaVersion !== aggregate.stateVersion
    // The runtime activates from a snapshot only at its own state version, and only when it can read it.
    let fromSnapshot: { state: unknown } | undefined
    let snapshotCheck: SnapshotCheck | undefined = stale ? "stale" : undefined
    if (snapshot !== undefined && !stale) {
      const decoded = decodeState(snapshot.data)
      if (Result.isSuccess(decoded)) fromSnapshot = { state: decoded.success }
      else {
        snapshotCheck = "unreadable"
        problems.push(
          `the snapshot at v${snapshot.version} cannot be read as state version ${aggregate.stateVersion}: ${messageOf(decoded.failure)}`
        )
      }
    }

    let state: unknown = aggregate.initialState
    let folding = true
    let version = 0
    const kept: Array<RecordedEvent> = []
    for (let fromVersion = 1; ; ) {
      const page = yield* store.readStream(streamId, { fromVersion, maxCount: pageSize })
      for (const event of page) {
        version = event.version
        if (!folding) continue
        const decoded = decodeEvent({ ...(event.data as Record<string, unknown>), _tag: event.type })
        if (Result.isFailure(decoded)) {
          folding = false
          problems.push(
            `v${event.version} ${event.type} (#${event.position}) cannot be decoded: ${messageOf(decoded.failure)}`
          )
          continue
        }
        state = aggregate.evolve(state, decoded.success)
        if (fromSnapshot !== undefined && snapshot !== undefined && event.version > snapshot.version) {
          fromSnapshot.state = aggregate.evolve(fromSnapshot.state, decoded.success)
        }
      }
      kept.push(...page)
      if (args.last !== undefined && kept.length > args.last) kept.splice(0, kept.length - args.last)
      const last = page.at(-1)
      if (last === undefined || page.length < pageSize) break
      fromVersion = last.version + 1
    }

    const encode = (value: unknown, what: string) => {
      const encoded = encodeState(value)
      if (Result.isSuccess(encoded)) return encoded.success
      problems.push(`${what} cannot be encoded: ${messageOf(encoded.failure)}`)
      return undefined
    }
    const encodedState = folding ? encode(state, "the folded state") : undefined

    if (snapshot !== undefined && snapshotCheck === undefined) {
      if (snapshot.version > version) {
        snapshotCheck = "ahead"
        problems.push(`the snapshot is at v${snapshot.version}, but the stream only reaches v${version}`)
      } else if (!folding || encodedState === undefined || fromSnapshot === undefined) {
        snapshotCheck = "unchecked"
      } else {
        const viaSnapshot = encode(fromSnapshot.state, "the state folded from the snapshot")
        snapshotCheck = canonicalJson(viaSnapshot) === canonicalJson(encodedState) ? "consistent" : "inconsistent"
        if (snapshotCheck === "inconsistent") {
          problems.push(
            `the snapshot at v${snapshot.version} plus the ${version - snapshot.version} later events folds to another state than the whole stream`
          )
        }
      }
    }

    return {
      streamId,
      streamType: aggregate.type,
      aggregate: entry.name,
      version,
      events: kept,
      snapshot:
        snapshot === undefined
          ? undefined
          : {
              version: snapshot.version,
              stateVersion: snapshot.schemaVersion,
              codeStateVersion: aggregate.stateVersion,
              stale,
              check: snapshotCheck ?? "unchecked",
              laterEvents: Math.max(0, version - snapshot.version)
            },
      state: encodedState,
      problems
    } satisfies InspectReport
  })

/** The report as one JSON object. */
export const toJson = (report: InspectReport) => ({
  stream_id: report.streamId,
  stream_type: report.streamType,
  aggregate: report.aggregate,
  version: report.version,
  events_shown: report.events.length,
  events: report.events.map((e) => {
    const { stream_id: _s, stream_type: _t, ...rest } = EventFormat.toJson(e)
    return rest
  }),
  snapshot:
    report.snapshot === undefined
      ? null
      : {
          version: report.snapshot.version,
          state_version: report.snapshot.stateVersion,
          code_state_version: report.snapshot.codeStateVersion,
          stale: report.snapshot.stale,
          check: report.snapshot.check,
          later_events: report.snapshot.laterEvents
        },
  state: report.state ?? null,
  problems: report.problems
})

const snapshotLine = (snapshot: SnapshotReport | undefined): string => {
  if (snapshot === undefined) return "Snapshot  none (actors activate by folding the whole stream)"
  const at = `v${snapshot.version}, state version ${snapshot.stateVersion}`
  switch (snapshot.check) {
    case "consistent":
      return `Snapshot  ${at} (current); snapshot + ${snapshot.laterEvents} later events folds to the same state: OK`
    case "inconsistent":
      return `Snapshot  ${at} (current); snapshot + ${snapshot.laterEvents} later events folds to ANOTHER state`
    case "stale":
      return `Snapshot  ${at}: STALE, the code is at state version ${snapshot.codeStateVersion}; the runtime ignores it and folds the whole stream`
    case "unreadable":
      return `Snapshot  ${at}: UNREADABLE with the current state schema; the runtime ignores it`
    case "ahead":
      return `Snapshot  ${at}: AHEAD of the stream`
    case "unchecked":
      return `Snapshot  ${at}: not checked (the stream could not be folded)`
  }
}

/** The report as text for people. */
export const toText = (report: InspectReport): string => {
  const width = Math.max(...report.events.map((e) => String(e.position).length), 1)
  const vWidth = String(report.version).length
  const shown =
    report.events.length < report.version ? ` (the last ${report.events.length} of ${report.version} events)` : ""
  const lines = [
    `Stream    ${report.streamId} (${report.aggregate}), version ${report.version}`,
    `Events${shown}`,
    ...report.events.map(
      (e) =>
        `  v${String(e.version).padEnd(vWidth)}  #${String(e.position).padEnd(width)}  ${e.recordedAt.toISOString()}  ${e.type}  ${JSON.stringify(e.data)}`
    ),
    snapshotLine(report.snapshot),
    report.state === undefined
      ? "State     could not be folded"
      : `State     folded from ${report.version} events:\n${JSON.stringify(report.state, null, 2)}`,
    ...report.problems.map((p) => `PROBLEM   ${p}`)
  ]
  return `${lines.join("\n")}\n`
}

/** Shows the stream; the exit code says whether there was one, and whether it is sound. */
export const run = (args: InspectArgs): Effect.Effect<number, EventStoreError, EventStore | SnapshotStore | Output> =>
  Effect.gen(function* () {
    const output = yield* Output
    const report = yield* inspect(args)
    if (report.version === 0) {
      const snapshotNote =
        report.snapshot === undefined ? "" : ` (yet a snapshot at v${report.snapshot.version} exists)`
      yield* output.err(`Stream ${report.streamId} has no events${snapshotNote}.\n`)
      return exitCodes.notFound
    }
    yield* output.out(args.json ? `${JSON.stringify(toJson(report))}\n` : toText(report))
    return report.problems.length > 0 ? exitCodes.inconsistent : exitCodes.ok
  })

export const script: Script<InspectArgs, EventStoreError, EventStore | SnapshotStore | Output> = {
  usage,
  parse: parseInspect,
  run
}
