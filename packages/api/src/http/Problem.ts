/**
 * Problem responses made at the HTTP edge, in the shape of the API's own
 * problems (RFC 9457 `application/problem+json`: `type`, `title`, `status`,
 * `detail`, and a machine-readable `code`), and the rewrite of any error
 * response that is not one — Effect's empty 404/405/413, its text/plain 415 —
 * so that every error a client sees has that one shape.
 */
import { Headers, HttpServerResponse, ProblemDetails } from "effect/http"

const titles: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

// What a client is told for an error response that came without a problem body.
const defaults: Readonly<Record<number, { readonly detail: string; readonly code: string }>> = {
  400: { detail: "The request could not be read", code: "bad_request" },
  404: { detail: "Nothing is found at this address", code: "not_found" },
  405: { detail: "This method is not allowed here", code: "method_not_allowed" },
  413: { detail: "The request body is too large", code: "payload_too_large" },
  415: { detail: "This route does not accept the request's content type", code: "unsupported_media_type" },
  500: { detail: "An unexpected error occurred; it has been logged", code: "internal_error" },
  503: { detail: "The service is unavailable; try again later", code: "unavailable" }
}

/** The standard reason phrase for a status, used as the problem's `title`. */
export const titleOf = (status: number): string =>
  titles[status] ?? (status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : "OK")

/** A problem+json response. */
export const problem = (
  status: number,
  detail: string,
  code: string,
  options: { readonly headers?: Headers.Input; readonly extensions?: Readonly<Record<string, unknown>> } = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(
    { ...options.extensions, type: ProblemDetails.blankType, title: titleOf(status), status, detail, code },
    { status, contentType: ProblemDetails.contentType, headers: options.headers }
  )

/** The content type of a response, from its headers or its body. */
export const contentTypeOf = (response: HttpServerResponse.HttpServerResponse): string =>
  (
    response.headers["content-type"] ?? (response.body._tag === "Empty" ? "" : (response.body.contentType ?? ""))
  ).toLowerCase()

const isProblem = (response: HttpServerResponse.HttpServerResponse) =>
  contentTypeOf(response).startsWith(ProblemDetails.contentType)

// A short plain-text error body (Effect's "Unsupported content-type: text/plain") says more than a default.
const textDetail = (response: HttpServerResponse.HttpServerResponse): string | undefined => {
  const body = response.body
  if (body._tag !== "Uint8Array" || !body.contentType.startsWith("text/plain")) return undefined
  if (body.contentLength === 0 || body.contentLength > 500) return undefined
  return body.text ?? new TextDecoder().decode(body.body)
}

/**
 * An error response (4xx, 5xx) that is not a problem becomes one with the
 * same status and headers; anything else is returned as it is. A client that
 * went away (499) is left alone: nobody reads that answer.
 */
export const normalise = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.status < 400 || response.status === 499 || isProblem(response)) return response
  const fallback = defaults[response.status] ?? {
    detail: titleOf(response.status),
    code: response.status >= 500 ? "server_error" : "client_error"
  }
  return problem(response.status, textDetail(response) ?? fallback.detail, fallback.code, {
    headers: Headers.removeMany(response.headers, ["content-type", "content-length"])
  })
}
