/**
 * CORS for browsers on other origins, from `CORS_ORIGINS`: a comma-separated
 * list of origins (`https://shop.example.com,http://localhost:5173`), or `*`
 * for any origin.
 *
 * The default is none: the web UI is served by this same server, so no
 * cross-origin access is needed unless an operator asks for it (the embedded
 * development start sets `*`). Credentials are never allowed — the API
 * authenticates with bearer tokens, not cookies — which is also what makes
 * `*` safe to offer. A preflight may send `authorization`, `content-type` and
 * `idempotency-key`; the rate-limit, `Retry-After` and `Idempotent-Replayed`
 * headers are exposed to scripts.
 */
import { Config, Effect } from "effect"
import { HttpMiddleware, type HttpServerRequest, type HttpServerResponse } from "effect/http"

/** What `CORS_ORIGINS` says: nobody, anybody, or these origins. */
export type CorsOrigins =
  | { readonly _tag: "None" }
  | { readonly _tag: "Any" }
  | { readonly _tag: "Only"; readonly origins: ReadonlyArray<string> }

/** Parses a `CORS_ORIGINS` value. */
export const parseOrigins = (value: string): CorsOrigins => {
  const origins = value
    .split(",")
    .map((origin) => origin.trim().replace(/\/+$/, ""))
    .filter((origin) => origin !== "")
  if (origins.includes("*")) return { _tag: "Any" }
  return origins.length === 0 ? { _tag: "None" } : { _tag: "Only", origins }
}

/** `CORS_ORIGINS` (default: none). */
export const originsConfig: Config.Config<CorsOrigins> = Config.String("CORS_ORIGINS").pipe(
  Config.withDefault(""),
  Config.map(parseOrigins)
)

export const allowedHeaders = ["authorization", "content-type", "idempotency-key", "x-min-position", "x-request-id"]

export const exposedHeaders = [
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
  "retry-after",
  "idempotent-replayed",
  "location",
  "x-position",
  "x-request-id"
]

/**
 * The middleware for the configured origins. With none it does nothing at
 * all: an `OPTIONS` then reaches the router like any other method.
 */
export const make = (origins: CorsOrigins) => {
  const cors =
    origins._tag === "None"
      ? undefined
      : HttpMiddleware.cors({
          // Effect's `cors` reads an empty list as "any origin".
          allowedOrigins: origins._tag === "Any" ? [] : origins.origins,
          allowedHeaders,
          exposedHeaders,
          credentials: false,
          maxAge: 600
        })
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    cors === undefined ? app : cors(app)
}

/** The middleware, from `CORS_ORIGINS`. */
export const fromConfig = Effect.gen(function* () {
  return make(yield* originsConfig)
})
