/**
 * What every root script shares: argument parsing (`node:util` parseArgs),
 * `--help`, usage errors, and running on the database the server would use
 * (`DATABASE_URL`, or the embedded PostgreSQL in `.data/pg`), with logs on
 * stderr and the script's own exit code.
 *
 * Exit codes: 0 done, 1 nothing to show (an unknown stream, say), 2 a usage
 * error, 3 the data is inconsistent (a script says how); a failure of the
 * database is reported by the runtime and exits 1.
 */
import { type ParseArgsConfig, parseArgs } from "node:util"
import { PgEventStore } from "@agora/eventstore"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Exit, Layer, Logger, Result, Runtime, Schema } from "effect"
import * as Database from "../Database.ts"
import * as ScriptOutput from "./Output.ts"
import { Output } from "./Output.ts"

/** The exit codes the scripts share (see the header). */
export const exitCodes = { ok: 0, notFound: 1, usage: 2, inconsistent: 3 } as const

/**
 * The arguments cannot be used; the message says why. Without an exit code
 * they cannot be understood (the usage is shown, exit 2); with one they were
 * understood but name nothing there is (an unknown stream type, say).
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String,
  exitCode: Schema.optional(Schema.Number)
}) {}

/** Parses arguments strictly: an unknown option or a missing value is a `UsageError`. */
export const parse = <const T extends Omit<ParseArgsConfig, "args" | "strict">>(
  argv: ReadonlyArray<string>,
  config: T
) =>
  Effect.try({
    try: () => parseArgs({ ...config, args: [...argv], strict: true }),
    catch: (error) => new UsageError({ message: error instanceof Error ? error.message : String(error) })
  })

/** An integer option of at least `minimum` (`undefined` when it is absent). */
export const integerOption = (
  name: string,
  value: string | undefined,
  minimum = 0
): Effect.Effect<number | undefined, UsageError> => {
  if (value === undefined) return Effect.succeed(undefined)
  const n = Number(value)
  return Number.isSafeInteger(n) && n >= minimum && value.trim() !== ""
    ? Effect.succeed(n)
    : Effect.fail(new UsageError({ message: `--${name} must be an integer ≥ ${minimum}, not "${value}"` }))
}

/** A script: its help text, how it reads its arguments, and what it does with them (returning its exit code). */
export interface Script<A, E, R> {
  readonly usage: string
  readonly parse: (argv: ReadonlyArray<string>) => Effect.Effect<A, UsageError>
  readonly run: (args: A) => Effect.Effect<number, E, R>
}

const wantsHelp = (argv: ReadonlyArray<string>) => argv.includes("--help") || argv.includes("-h")

/**
 * Runs a script in-process: help, then the arguments, then the work. Only the
 * work needs `R`, so `provide` can open the database after the arguments are
 * known to be good (`--help` never starts an embedded PostgreSQL).
 */
export const execute = <A, E, R, E2, R2>(
  script: Script<A, E, R>,
  argv: ReadonlyArray<string>,
  provide: (run: Effect.Effect<number, E, R>) => Effect.Effect<number, E2, R2>
): Effect.Effect<number, E2, R2 | Output> =>
  Effect.gen(function* () {
    const output = yield* Output
    if (wantsHelp(argv)) {
      yield* output.out(`${script.usage.trim()}\n`)
      return exitCodes.ok
    }
    const parsed = yield* Effect.result(script.parse(argv))
    if (Result.isFailure(parsed)) {
      const { message, exitCode } = parsed.failure
      yield* output.err(exitCode === undefined ? `${message}\n\n${script.usage.trim()}\n` : `${message}\n`)
      return exitCode ?? exitCodes.usage
    }
    return yield* provide(script.run(parsed.success))
  })

/** The event store and snapshot store on the database the server would use. */
export const Stores = PgEventStore.layer().pipe(Layer.provideMerge(Database.layer))

/** Logs go to stderr: stdout is the script's result. */
const ScriptLogging = Layer.succeed(Logger.LogToStderr, true)

/** Runs a script as the process's main program with `layer` for its work; exits with its code. */
export const main = <A, E, R, LE>(script: Script<A, E, R>, layer: Layer.Layer<Exclude<R, Output>, LE>): void => {
  // What `layer` leaves of `R` is `Output`, which TypeScript cannot work out for a generic `R`.
  const provide = (run: Effect.Effect<number, E, R>) =>
    Effect.provide(run, layer) as Effect.Effect<number, E | LE, Output>
  NodeRuntime.runMain(
    execute(script, process.argv.slice(2), provide).pipe(
      Effect.provide(ScriptOutput.layer),
      Effect.provide(ScriptLogging)
    ),
    {
      teardown: (exit, onExit) =>
        Exit.isSuccess(exit) && typeof exit.value === "number"
          ? onExit(exit.value)
          : Runtime.defaultTeardown(exit, onExit)
    }
  )
}
