/**
 * U+0000 is refused at the edge: a request whose target (path or query) or
 * body carries a NUL character is a 400 problem before any route runs.
 *
 * PostgreSQL text cannot hold U+0000, so a NUL in any string that reaches the
 * database — a SKU in a path, a cursor, an email in a sign-in — fails there as
 * an error the handler reports as a dependency failure (503): a 5xx for bad
 * input, which SPEC §8 forbids. No field of the API has a use for it, so one
 * check here covers every route, present and future. A body is checked as
 * bytes (a raw NUL, `%00` in a form) and, for JSON, for the `\u0000` escape;
 * the body read is the one the route reads next (the request caches it), and
 * it runs inside the body limit.
 */
import { Effect } from "effect"
import { HttpMethod, type HttpServerError, HttpServerRequest, type HttpServerResponse } from "effect/http"
import * as Problem from "./Problem.ts"

// `%00` in a target or form; in JSON, `\u0000` not itself escaped (an odd run of backslashes before the `u`).
const percentNul = /%00/
const jsonNul = /(?:^|[^\\])(?:\\\\)*\\u0000/

/** Whether a body (as text, with its content type; none means JSON, as for the routes) carries U+0000. */
export const bodyHasNul = (text: string, contentType: string): boolean =>
  text.includes("\u0000") ||
  ((contentType === "" || contentType.includes("json")) && text.includes("\\u0000") && jsonNul.test(text)) ||
  (contentType.includes("x-www-form-urlencoded") && percentNul.test(text))

const inTarget = Problem.problem(
  400,
  "The request target contains a NUL character (%00), which no path or parameter can hold",
  "nul_character"
)

const inBody = Problem.problem(
  400,
  "The request body contains a NUL character (U+0000), which no field can hold",
  "nul_character"
)

/** The middleware. */
export const make = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  E | HttpServerError.HttpServerError,
  R | HttpServerRequest.HttpServerRequest
> =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.url.includes("\u0000") || percentNul.test(request.url)) return inTarget
    const hasBody =
      HttpMethod.hasBody(request.method) &&
      (request.headers["transfer-encoding"] !== undefined || Number(request.headers["content-length"] ?? 0) > 0)
    if (hasBody && bodyHasNul(yield* request.text, (request.headers["content-type"] ?? "").toLowerCase())) {
      return inBody
    }
    return yield* app
  })
