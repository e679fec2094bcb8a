/**
 * What the server tells about its work besides its answers: log lines and
 * traces (its metrics are `/metrics`, the API's `Metrics.ts`).
 *
 * - `LOG_FORMAT`: `json`, one object per line for a log pipeline
 *   (`JsonLogger.ts`), or `pretty`, for a terminal; `json` by default when
 *   `NODE_ENV=production`, `pretty` otherwise.
 * - `LOG_LEVEL`: the least severe level written — `trace`, `debug`, `info`
 *   (the default), `warn`, `error`, `fatal`, or `all` / `none`.
 * - Traces go out over OTLP when a collector is configured (`OtlpTracing.ts`),
 *   with request spans named after their route. Otherwise tracing is off
 *   altogether (`References.TracerEnabled`): Effect's own spans (`Effect.fn`,
 *   SQL statements, requests) become no-ops and ours are never made, so an
 *   unobserved server pays nothing for them.
 *
 * Provided around everything else, so that every fiber logs and traces this way.
 */
import { ApiLive } from "@agora/api"
import { Config, Effect, Layer, Logger, type LogLevel, Option, References, Schema } from "effect"
import * as JsonLogger from "./JsonLogger.ts"
import * as OtlpTracing from "./OtlpTracing.ts"

const levels: Readonly<Record<string, LogLevel.LogLevel>> = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
}

const LevelName = Schema.String.pipe(
  Schema.check(
    Schema.makeFilter((name: string) => Object.hasOwn(levels, name.toLowerCase()), {
      message: "LOG_LEVEL is one of trace, debug, info, warn, error, fatal, all, none"
    })
  )
)

/** How to log: `LOG_FORMAT` (its default from `NODE_ENV`) and `LOG_LEVEL`. */
export const config = Config.all({
  format: Config.schema(Schema.Literals(["json", "pretty"]), "LOG_FORMAT").pipe(Config.option),
  production: Config.String("NODE_ENV").pipe(
    Config.withDefault(""),
    Config.map((env) => env === "production")
  ),
  level: Config.schema(LevelName, "LOG_LEVEL").pipe(
    Config.withDefault("info"),
    Config.map((name) => levels[name.toLowerCase()] ?? "Info")
  )
}).pipe(
  Config.map(({ format, production, level }) => ({
    format: Option.getOrElse(format, () => (production ? "json" : "pretty")),
    level
  }))
)

/** Logging and tracing as configured, for the whole server. */
export const layer = Layer.unwrap(
  Effect.gen(function* () {
    const { format, level } = yield* config
    const tracing = yield* OtlpTracing.config
    const logging = Layer.mergeAll(
      Logger.layer([
        format === "json" ? JsonLogger.logger : Logger.consolePretty(),
        // Log lines also become events of the span they were written in.
        ...(Option.isSome(tracing) ? [Logger.tracerLogger] : [])
      ]),
      Layer.succeed(References.MinimumLogLevel, level)
    )
    const traces = Option.isSome(tracing)
      ? Layer.mergeAll(OtlpTracing.layer(tracing.value), ApiLive.spanNames)
      : Layer.succeed(References.TracerEnabled, false)
    return Layer.mergeAll(logging, traces)
  })
)
