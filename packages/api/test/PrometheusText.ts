/**
 * Reads the samples of a Prometheus text exposition (what `/metrics` serves),
 * for tests that compare metric values before and after a request.
 */
import { Effect } from "effect"
import { call } from "./ApiHarness.ts"

/** One sample line: `name{label="value",…} 12`. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** The samples of an exposition (comments and blank lines skipped). */
export const parse = (text: string): ReadonlyArray<Sample> =>
  text.split("\n").flatMap((line) => {
    const match = sampleLine.exec(line)
    if (match === null) return []
    const labels: Record<string, string> = {}
    for (const [, name, value] of (match[2] ?? "").matchAll(label)) {
      labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))
    }
    return [{ name: match[1]!, labels, value: Number(match[3]) }]
  })

/** The sum of the samples named `name` whose labels include `labels` (0 when there is none). */
export const total = (
  samples: ReadonlyArray<Sample>,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)

/** `GET /metrics`, parsed; also returns the raw reply. */
export const scrape = Effect.map(call("GET", "/metrics"), (reply) => ({
  reply,
  samples: parse(typeof reply.body === "string" ? reply.body : "")
}))
