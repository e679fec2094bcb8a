/**
 * Log lines as JSON, one object per line on stdout, for a log pipeline:
 * `timestamp`, `level` and `message` first, then what places the line —
 * the annotations in effect, flat (`correlation_id`, `event_id`,
 * `causation_id`, `topic`…), the HTTP request being answered (`request_id`,
 * and `correlation_id` for a request about an order; `RequestId`), the trace
 * (`trace_id`, `span_id`) when tracing — then the log spans, the fiber and
 * the `cause` of a failure. An annotation never replaces the first three.
 */
import { RequestId } from "@agora/api"
import { Cause, Context, Formatter, Logger, References, Tracer } from "effect"

const reserved = new Set(["timestamp", "level", "message"])

/** The message's parts as one text (a part that is not a string is formatted). */
const textOf = (message: unknown): string => {
  if (typeof message === "string") return message
  if (!Array.isArray(message)) return Formatter.format(message)
  let text = ""
  for (const part of message) {
    const piece = typeof part === "string" ? part : Formatter.format(part)
    text = text === "" ? piece : `${text} ${piece}`
  }
  return text
}

/** A log line as one JSON object (see the module header). */
export const format: Logger.Logger<unknown, string> = Logger.make(({ message, logLevel, cause, fiber, date }) => {
  const line: Record<string, unknown> = {
    timestamp: date.toISOString(),
    level: logLevel.toUpperCase(),
    message: textOf(message)
  }
  const request = RequestId.logFields(fiber.context)
  if (request !== undefined) Object.assign(line, request)
  const annotations = fiber.getRef(References.CurrentLogAnnotations)
  for (const key in annotations) {
    if (!reserved.has(key)) line[key] = annotations[key]
  }
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  if (span?.sampled && span.traceId !== "noop") {
    line.trace_id = span.traceId
    line.span_id = span.spanId
  }
  const logSpans = fiber.getRef(References.CurrentLogSpans)
  if (logSpans.length > 0) {
    const now = date.getTime()
    line.spans = Object.fromEntries(logSpans.map(([label, start]) => [label, now - start]))
  }
  line.fiber = `#${fiber.id}`
  if (cause.reasons.length > 0) line.cause = Cause.pretty(cause)
  return stringify(line)
})

/** Plain `JSON.stringify` (the common case, and the fast one); Effect's safe one for what it refuses (a cycle, a bigint). */
const stringify = (line: Record<string, unknown>): string => {
  try {
    return JSON.stringify(line)
  } catch {
    return Formatter.formatJson(line)
  }
}

/** The JSON lines, written to stdout. */
export const logger: Logger.Logger<unknown, void> = Logger.withConsoleLog(format)
