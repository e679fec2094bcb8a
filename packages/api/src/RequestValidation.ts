/**
 * Turns request decoding failures into problems: a body that is not JSON at
 * all is a 400; a body, query, path or header that is JSON (or text) but not
 * what the route accepts is a 422 listing every offending field as
 * `{ path, message }`, the path starting with the request slot
 * (`payload`, `query`, `params`, `headers`). A response that fails to encode is
 * our bug, not the client's: reported, and answered 500 with no detail.
 */
import { Cause, Effect, SchemaIssue } from "effect"
import { HttpServerRespondable } from "effect/http"
import { HttpApiError, HttpApiMiddleware } from "effect/http-api"
import { MalformedRequest, Unprocessable } from "./Problems.ts"

export class RequestValidation extends HttpApiMiddleware.Service<RequestValidation>()("@agora/api/RequestValidation", {
  error: [MalformedRequest, Unprocessable]
}) {}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const segment = (s: PropertyKey | { readonly key: PropertyKey }): string | number => {
  const key = typeof s === "object" && s !== null ? s.key : s
  return typeof key === "number" ? key : String(key)
}

const notJson = (issue: SchemaIssue.Issue) =>
  issue._tag === "InvalidValue" && issue.annotations?.message === "Expected a valid JSON body"

export const layer = HttpApiMiddleware.layerSchemaErrorTransform(RequestValidation, (error) => {
  if (error.kind === "Body" || error.kind === "ResponseHeaders") {
    return Effect.andThen(
      Effect.logError("Response failed to encode", Cause.fail(error)),
      HttpServerRespondable.toResponse(new HttpApiError.InternalServerErrorProblem())
    )
  }
  if (notJson(error.cause.issue)) {
    return Effect.fail(new MalformedRequest({ detail: "The request body is not valid JSON", code: "malformed_json" }))
  }
  const slot = error.kind.toLowerCase()
  const errors = formatIssues(error.cause.issue).issues.map((issue) => ({
    path: [slot, ...(issue.path ?? []).map(segment)],
    message: issue.message
  }))
  return Effect.fail(
    new Unprocessable({
      detail: "The request does not match what this route accepts",
      code: "validation_failed",
      errors
    })
  )
})
