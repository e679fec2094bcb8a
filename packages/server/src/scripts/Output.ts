/**
 * Where a script writes: its results on stdout, progress and summaries on
 * stderr, so `--json` output can be piped while a person still sees progress.
 * A service, so tests run a script in-process and read what it wrote. Writes
 * wait while stdout is full, so a slow reader holds a replay back instead of
 * letting the output pile up in memory.
 */
import { Context, Effect, Layer } from "effect"

export class Output extends Context.Service<
  Output,
  {
    /** Writes to stdout (the script's result). */
    readonly out: (text: string) => Effect.Effect<void>
    /** Writes to stderr (progress, summaries, messages). */
    readonly err: (text: string) => Effect.Effect<void>
    /** Whether stdout is a terminal (then progress on stderr shares the screen with the output). */
    readonly outIsTTY: boolean
    /** Whether stderr is a terminal: progress is drawn in place only there. */
    readonly errIsTTY: boolean
    /** The terminal's width (80 when it is not one). */
    readonly errColumns: number
  }
>()("@agora/server/scripts/Output") {}

const writeTo = (stream: NodeJS.WriteStream) => (text: string) =>
  Effect.callback<void>((resume) => {
    if (stream.write(text)) resume(Effect.void)
    else stream.once("drain", () => resume(Effect.void))
  })

/** The process's stdout and stderr. */
export const layer = Layer.sync(Output, () => {
  // The reader went away (`| head`): there is no one left to write for.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0)
    throw error
  })
  return Output.of({
    out: writeTo(process.stdout),
    err: writeTo(process.stderr),
    outIsTTY: process.stdout.isTTY === true,
    errIsTTY: process.stderr.isTTY === true,
    errColumns: process.stderr.columns ?? 80
  })
})

/** An output that keeps what is written, for tests. */
export const capture = (
  options: { readonly outIsTTY?: boolean; readonly errIsTTY?: boolean; readonly errColumns?: number } = {}
) => {
  const written = { out: "", err: "" }
  const output = Output.of({
    out: (text) =>
      Effect.sync(() => {
        written.out += text
      }),
    err: (text) =>
      Effect.sync(() => {
        written.err += text
      }),
    outIsTTY: options.outIsTTY ?? false,
    errIsTTY: options.errIsTTY ?? false,
    errColumns: options.errColumns ?? 80
  })
  return { written, layer: Layer.succeed(Output, output) }
}
