/**
 * The simulators' error answers, RFC 9457 `application/problem+json` like the
 * rest of the API (`type`, `title`, `status`, `detail`, and `errors` as
 * `{ path, message }` when a body does not match), so a client handles the
 * simulated provider's refusals with the code it uses for Agora's own.
 */
import { type Schema, SchemaIssue } from "effect"
import { HttpServerResponse } from "effect/http"

/** One offending field of a body. */
export interface FieldIssue {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

const titles: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  409: "Conflict",
  422: "Unprocessable Content"
}

/** A problem response with `status`. */
export const response = (
  status: number,
  detail: string,
  errors?: ReadonlyArray<FieldIssue>
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(
    { type: "about:blank", title: titles[status] ?? "Error", status, detail, ...(errors ? { errors } : {}) },
    { status, contentType: "application/problem+json" }
  )

const format = SchemaIssue.makeFormatterStandardSchemaV1()

/** Every offending field of a failed decode, its path from the body's root. */
export const fieldIssues = (error: Schema.SchemaError): ReadonlyArray<FieldIssue> =>
  format(error.issue).issues.map((issue) => ({
    path: (issue.path ?? []).map((s) => {
      const key = typeof s === "object" && s !== null ? s.key : s
      return typeof key === "number" ? key : String(key)
    }),
    message: issue.message
  }))
