/**
 * Progress and summaries for long-running scripts (replay, rebuild), on
 * stderr. The bar is drawn in place only when stderr is a terminal, at most
 * ten times a second however fast work advances; elsewhere (a pipe, a CI log)
 * nothing is drawn and the summary is the one final line.
 */
import { Clock, Effect } from "effect"
import { Output } from "./Output.ts"

/** A number with thousands separators: 1,234,567. */
export const count = (n: number): string => Math.round(n).toLocaleString("en-US")

/** Milliseconds as a person reads them: 850 ms, 4.2 s, 3 min 05 s. */
export const duration = (millis: number): string => {
  if (millis < 1000) return `${Math.round(millis)} ms`
  if (millis < 60_000) return `${(millis / 1000).toFixed(1)} s`
  const seconds = Math.round(millis / 1000)
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, "0")} s`
}

/** Work per second over an elapsed time (0 when no time has passed). */
export const rate = (done: number, millis: number): number => (millis > 0 ? (done * 1000) / millis : 0)

export interface Progress {
  /** Counts `n` more units done (and redraws, when it is time to). */
  readonly advance: (n: number) => Effect.Effect<void>
  /**
   * Runs `effect` with the bar lifted, for output to the same terminal (stdout
   * a terminal too): the bar is erased first and redrawn at the next advance.
   */
  readonly above: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Clears the bar; call once at the end, before printing the summary. */
  readonly done: Effect.Effect<void>
}

export interface ProgressOptions {
  /** Shown before the bar, e.g. "replay". */
  readonly label: string
  /** Units expected in all (0 when unknown: no bar, only counts). */
  readonly total: number
  /** What a unit is, e.g. "events". */
  readonly unit: string
  /** Least time between redraws (default 100 ms). */
  readonly intervalMillis?: number
}

const barOf = (fraction: number, width: number): string => {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width)
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`
}

/** A progress bar on stderr: drawn in place when it is a terminal, silent otherwise. */
export const make = (options: ProgressOptions): Effect.Effect<Progress, never, Output> =>
  Effect.gen(function* () {
    const output = yield* Output
    const interval = options.intervalMillis ?? 100
    const started = yield* Clock.currentTimeMillis
    const total = options.total
    let doneCount = 0
    let lastDraw = Number.NEGATIVE_INFINITY

    const line = (now: number): string => {
      const elapsed = now - started
      const perSecond = rate(doneCount, elapsed)
      const counts = `${count(doneCount)}${total > 0 ? `/${count(total)}` : ""} ${options.unit}`
      const speed = `${count(perSecond)} ${options.unit}/s`
      if (total <= 0) return `${options.label}  ${counts}  ${speed}`
      const fraction = doneCount / total
      const eta =
        perSecond > 0 && doneCount < total ? `  ETA ${duration(((total - doneCount) / perSecond) * 1000)}` : ""
      const text = `  ${String(Math.floor(fraction * 100)).padStart(3)}%  ${counts}  ${speed}${eta}`
      const width = Math.max(10, Math.min(40, output.errColumns - options.label.length - text.length - 2))
      return `${options.label} ${barOf(fraction, width)}${text}`
    }

    const draw = Effect.gen(function* () {
      if (!output.errIsTTY) return
      const now = yield* Clock.currentTimeMillis
      if (now - lastDraw < interval) return
      lastDraw = now
      yield* output.err(`\r${line(now).slice(0, Math.max(1, output.errColumns - 1))}\x1b[K`)
    })

    const erase = Effect.suspend(() => {
      if (!output.errIsTTY || lastDraw === Number.NEGATIVE_INFINITY) return Effect.void
      lastDraw = Number.NEGATIVE_INFINITY
      return output.err("\r\x1b[K")
    })

    return {
      advance: (n) =>
        Effect.suspend(() => {
          doneCount += n
          return draw
        }),
      above: (effect) => (output.outIsTTY ? Effect.andThen(erase, effect) : effect),
      done: erase
    }
  })

/** When the work started, to measure it: `elapsed` is the milliseconds since. */
export const stopwatch = Effect.map(Clock.currentTimeMillis, (started) => ({
  elapsed: Effect.map(Clock.currentTimeMillis, (now) => now - started)
}))

export interface Summary {
  /** Shown first, e.g. "replay". */
  readonly label: string
  /** Named counts in order, e.g. [["scanned", 1000], ["printed", 12]]; the first sets the rate. */
  readonly counts: ReadonlyArray<readonly [string, number]>
  readonly unit: string
  readonly elapsedMillis: number
  /** Anything else worth a word, e.g. "positions 1..1,000". */
  readonly notes?: ReadonlyArray<string>
}

/** The summary as one line: `replay: 1,000 events scanned, 12 printed in 1.2 s (833 events/s); positions 1..1,000`. */
export const formatSummary = (summary: Summary): string => {
  const [first, ...rest] = summary.counts
  const counts = [
    ...(first === undefined ? [] : [`${count(first[1])} ${summary.unit} ${first[0]}`]),
    ...rest.map(([name, n]) => `${count(n)} ${name}`)
  ].join(", ")
  const speed = first === undefined ? "" : ` (${count(rate(first[1], summary.elapsedMillis))} ${summary.unit}/s)`
  const notes = summary.notes === undefined || summary.notes.length === 0 ? "" : `; ${summary.notes.join("; ")}`
  return `${summary.label}: ${counts} in ${duration(summary.elapsedMillis)}${speed}${notes}`
}

/** Prints the summary line on stderr. */
export const printSummary = (summary: Summary): Effect.Effect<void, never, Output> =>
  Output.use((output) => output.err(`${formatSummary(summary)}\n`))
