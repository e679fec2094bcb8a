/**
 * Every error a client can cause, as an RFC 9457 problem
 * (`application/problem+json`): `type`, `title`, `status`, a human `detail`,
 * and a machine-readable `code` where clients need to tell cases apart
 * (`email_taken`, `insufficient_funds`…). Validation problems list each
 * offending field in `errors` as `{ path, message }`.
 */
import { Schema } from "effect"
import { HttpApiError } from "effect/http-api"

const common = { detail: Schema.String, code: Schema.optional(Schema.String) }

/** The request could not be read at all: malformed JSON, a bad header. */
export class MalformedRequest extends HttpApiError.Problem<MalformedRequest>()(
  "MalformedRequest",
  { type: "about:blank", status: 400, title: "Bad Request" },
  common
) {}

/** No valid credentials: missing, expired or forged token, or a failed sign-in. */
export class Unauthenticated extends HttpApiError.Problem<Unauthenticated>()(
  "Unauthenticated",
  { type: "about:blank", status: 401, title: "Unauthorized" },
  common
) {}

/** Authenticated, but not allowed (admin routes). */
export class Forbidden extends HttpApiError.Problem<Forbidden>()(
  "Forbidden",
  { type: "about:blank", status: 403, title: "Forbidden" },
  common
) {}

/** Unknown id, or not yours to see (the API never tells the two apart). */
export class NotFound extends HttpApiError.Problem<NotFound>()(
  "NotFound",
  { type: "about:blank", status: 404, title: "Not Found" },
  common
) {}

/** The request conflicts with the current state (email taken, account exists, not cancellable…). */
export class Conflict extends HttpApiError.Problem<Conflict>()(
  "Conflict",
  { type: "about:blank", status: 409, title: "Conflict" },
  common
) {}

/** The request was read but its content is not acceptable. */
export class Unprocessable extends HttpApiError.Problem<Unprocessable>()(
  "Unprocessable",
  { type: "about:blank", status: 422, title: "Unprocessable Content" },
  { ...common, errors: Schema.optional(Schema.Array(HttpApiError.ProblemIssue)) }
) {}

/** A dependency the request needs is down; nothing was changed. */
export class Unavailable extends HttpApiError.Problem<Unavailable>()(
  "Unavailable",
  { type: "about:blank", status: 503, title: "Service Unavailable" },
  common
) {}
