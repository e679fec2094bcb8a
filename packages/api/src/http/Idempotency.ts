/**
 * `Idempotency-Key` on every POST, with Stripe's semantics (SPEC §6), on the
 * `IdempotencyStore` (PostgreSQL, kept ≥ 24 h). Without the header nothing
 * changes.
 *
 * A key is scoped by the caller (`user:<id>` when a valid bearer token is
 * present, else `ip:<addr>`; see `Caller`) and by the route template the
 * request matched in the contract (`POST /api/orders/:id/cancel`, from
 * `RouteTable`), and bound to a hash of the method, the concrete path (query
 * included) and the body bytes. The first request takes the key and runs; its
 * response (2xx and 4xx) is stored, and a retry with the same request gets it
 * back byte for byte with `Idempotent-Replayed: true`. A retry while the first
 * still runs is a 409, the same key with a different request a 422, an
 * invalid key a 400. A 5xx or a defect gives the key back (`abandon`), so that
 * the retry runs again.
 *
 * Every run of a keyed request issues the same commands (`KeyedRequest`: ids
 * derived from the caller, route and key), so that a run after a crash —
 * the first run committed, its answer lost with the process, the key given
 * back when its lease expired — finds its writes done instead of doing them
 * again (a second order, a second top-up).
 *
 * A keyed request runs in the edge's own scope, not the request's: if the
 * client goes away mid-request, the work still finishes and its response is
 * stored, so the retry the client makes next is answered from the store
 * instead of running the command a second time.
 */

import { KeyedRequest, keyedRequest } from "@agora/actors"
import {
  IdempotencyKey,
  IdempotencyStore,
  type Replay,
  requestHash,
  type Started,
  type StoredResponse
} from "@agora/edge"
import { Effect, Exit, Fiber, Schema } from "effect"
import { type HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { Caller } from "./Caller.ts"
import * as Problem from "./Problem.ts"
import { RouteTable } from "./RouteTable.ts"

type Response = HttpServerResponse.HttpServerResponse

const isKey = Schema.is(IdempotencyKey)

const keyErrors = (message: string) => [{ path: ["headers", "idempotency-key"], message }]

const invalidKey = Problem.problem(
  400,
  "The Idempotency-Key header must be 1 to 255 printable ASCII characters",
  "invalid_idempotency_key",
  { extensions: { errors: keyErrors("must be 1 to 255 printable ASCII characters") } }
)

const inFlight = Problem.problem(
  409,
  "A request with this Idempotency-Key is still being processed; retry shortly",
  "idempotency_key_in_use",
  { headers: { "retry-after": "1" } }
)

const mismatch = Problem.problem(
  422,
  "This Idempotency-Key was already used for a different request (method, path or body)",
  "idempotency_key_reused",
  { extensions: { errors: keyErrors("was already used for a different request") } }
)

const unavailable = Problem.problem(
  503,
  "Idempotency keys cannot be checked right now; nothing was done, retry later",
  "idempotency_unavailable"
)

/** The response as it is stored, or `undefined` for a body that cannot be (a stream). */
const toStored = (response: Response): StoredResponse | undefined => {
  const body = response.body
  let text: string
  switch (body._tag) {
    case "Empty":
      text = ""
      break
    case "Uint8Array":
      text = body.text ?? new TextDecoder().decode(body.body)
      break
    case "Raw":
      if (typeof body.body !== "string") return undefined
      text = body.body
      break
    default:
      return undefined
  }
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(response.headers)) {
    if (name !== "content-length") headers[name] = value
  }
  const contentType = Problem.contentTypeOf(response)
  if (contentType !== "") headers["content-type"] = contentType
  return { status: response.status, headers, body: text }
}

const replay = (stored: Replay): Response => {
  const headers = { ...stored.headers, "idempotent-replayed": "true" }
  return stored.body === ""
    ? HttpServerResponse.empty({ status: stored.status, headers })
    : HttpServerResponse.text(stored.body, {
        status: stored.status,
        headers,
        contentType: stored.headers["content-type"] ?? "application/octet-stream"
      })
}

/** The middleware, on the `IdempotencyStore` and `RouteTable` in context; needs `Caller`. */
export const make = Effect.gen(function* () {
  const store = yield* IdempotencyStore
  const routes = yield* RouteTable
  const scope = yield* Effect.scope

  // Stores what the route answered (2xx, 4xx), or gives the key back (5xx, defect, a body that cannot be stored).
  const record = (started: Started, exit: Exit.Exit<Response, unknown>) => {
    const stored = Exit.isSuccess(exit) && exit.value.status < 500 ? toStored(exit.value) : undefined
    if (stored === undefined) {
      return store
        .abandon(started)
        .pipe(Effect.catch((error) => Effect.logWarning("Idempotency: could not give a key back", error)))
    }
    return store
      .complete({ ...started, response: stored })
      .pipe(Effect.catch((error) => Effect.logWarning("Idempotency: the response was not stored", error)))
  }

  // `name` makes the commands of every run of this keyed request the same commands (`KeyedRequest`): a run after
  // a crash that lost the first run's answer (its key given back once its lease expired) appends nothing twice.
  const runOnce = <E, R>(app: Effect.Effect<Response, E, R>, started: Started, name: string) =>
    Effect.gen(function* () {
      const run = Effect.exit(
        Effect.map(Effect.provideService(app, KeyedRequest, keyedRequest(name)), Problem.normalise)
      ).pipe(Effect.tap((exit) => record(started, exit)))
      const fiber = yield* Effect.forkIn(run, scope)
      return yield* Effect.flatten(Fiber.join(fiber))
    })

  return <E, R>(
    app: Effect.Effect<Response, E, R>
  ): Effect.Effect<Response, E | HttpServerError.HttpServerError, R | Caller | HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (request.method !== "POST") return yield* app
      const key = request.headers["idempotency-key"]
      if (key === undefined) return yield* app
      const match = routes.lookup("POST", request.url)
      if (match._tag !== "Found") return yield* app
      if (!isKey(key)) return invalidKey
      const caller = yield* Caller
      const body = yield* request.arrayBuffer
      const keyScope = { subject: caller.subject, route: `POST ${match.template}` }
      const started = yield* store
        .begin({
          scope: keyScope,
          key,
          requestHash: requestHash({ path: `POST ${request.url}`, body: new Uint8Array(body) })
        })
        .pipe(
          Effect.catchTags({
            InvalidIdempotencyKey: () => Effect.succeed(invalidKey),
            IdempotencyStoreError: (error) =>
              Effect.as(Effect.logWarning("Idempotency: the store failed", error), unavailable)
          })
        )
      if (HttpServerResponse.isHttpServerResponse(started)) return started
      switch (started._tag) {
        case "Replay":
          return replay(started)
        case "InFlight":
          return inFlight
        case "Mismatch":
          return mismatch
        case "Started":
          return yield* runOnce(app, started, `${keyScope.subject}|${keyScope.route}|${key}`)
      }
    })
})
