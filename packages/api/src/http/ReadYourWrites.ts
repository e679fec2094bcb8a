/**
 * Read-your-writes across the read models.
 *
 * A write (`POST`, `PATCH`, `PUT`, `DELETE`) is answered with `X-Position`: the
 * global position of the last event it wrote (every command's position is
 * noted through `WrittenPosition`, which this middleware provides per request).
 * A read that passes it back — `?min_position=N` or `X-Min-Position: N` — is
 * answered only once the read model behind its route has applied position N:
 * it waits up to `READ_YOUR_WRITES_TIMEOUT` (default 2 s), then gives up with a
 * 503 and `Retry-After: 1` rather than answer with data older than asked for.
 * With the read-model store unreachable, reads answer from the event store,
 * which has every write, so they do not wait.
 *
 * Inside `Idempotency`, so a replayed write carries the position the first
 * answer had.
 */
import { WrittenPosition } from "@agora/actors"
import { Projections, type ReadModelError } from "@agora/readmodels"
import { Config, Duration, Effect } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Problem from "./Problem.ts"

/** The read model each family of read routes is served from. */
const projectionOf = (path: string): string | undefined => {
  if (path.startsWith("/api/orders") || /^\/api\/users\/[^/]+\/orders/.test(path)) return "orders"
  if (path.startsWith("/api/accounts")) return "accounts"
  if (path.startsWith("/api/products") || path.startsWith("/api/admin/inventory")) return "catalog"
  return undefined
}

const minPositionQuery = /[?&]min_position=([^&]*)/

const invalid = Problem.problem(
  400,
  "min_position must be a whole number, the X-Position of an earlier write",
  "invalid_min_position",
  { extensions: { errors: [{ path: ["query", "min_position"], message: "must be a non-negative integer" }] } }
)

const writes = new Set(["POST", "PATCH", "PUT", "DELETE"])

export const timeoutConfig = Config.Duration("READ_YOUR_WRITES_TIMEOUT").pipe(Config.withDefault(Duration.seconds(2)))

export const make = Effect.gen(function* () {
  const projections = yield* Projections
  const patience = yield* timeoutConfig
  const behind = (min: number) =>
    Problem.problem(
      503,
      `The read model has not reached position ${min} within ${Duration.format(patience)}; try again`,
      "read_model_behind",
      { headers: { "retry-after": "1" } }
    )

  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      if (writes.has(request.method)) {
        const cell = { position: undefined as number | undefined }
        return app.pipe(
          Effect.provideService(WrittenPosition, cell),
          Effect.map((response) =>
            cell.position === undefined
              ? response
              : HttpServerResponse.setHeader(response, "x-position", String(cell.position))
          )
        )
      }
      if (request.method !== "GET") return app
      const header = request.headers["x-min-position"]
      const query = request.url.includes("min_position=") ? minPositionQuery.exec(request.url)?.[1] : undefined
      const raw = query ?? header
      if (raw === undefined) return app
      const min = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN
      if (!Number.isSafeInteger(min)) return Effect.succeed(invalid)
      const queryStart = request.url.indexOf("?")
      const projection = projectionOf(queryStart === -1 ? request.url : request.url.slice(0, queryStart))
      if (projection === undefined || min === 0) return app
      return projections.awaitPosition(projection, min, patience).pipe(
        // The store is down: reads fall back to the event store, which has the write.
        Effect.catch((_: ReadModelError) => Effect.succeed(true)),
        Effect.flatMap((reached) => (reached ? app : Effect.succeed(behind(min))))
      )
    })
})
