/**
 * The shop UI, served at `/` by the API's own router: the built files under
 * `/assets/` (content-hashed, cached for good), and the page for every path
 * the browser app routes itself (`/cart`, `/orders/0193…`), revalidated each
 * time so a new deploy is picked up at once.
 *
 * A path is only ever a key in the built files' map, never a file name, so
 * nothing outside the build can be reached. What the UI does not own — the
 * API, the docs, metrics, the simulators, an asset that does not exist, a
 * path no route of the app could have — is left to the router's "no route"
 * answer (the API edge's 404/405 problem), never answered with the page.
 */
import { Config, Duration, Effect, Layer } from "effect"
import { HttpRouter, HttpServerError, type HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Assets from "./Assets.ts"

type Response = HttpServerResponse.HttpServerResponse

/** First path segments the UI never answers for. */
export const reservedSegments: ReadonlySet<string> = new Set(["api", "docs", "redoc", "metrics", "sim", "assets"])

// A route of the browser app: plain segments only (no dots, no escapes), e.g. `/orders/0193c0de-…`.
const appRoute = /^\/(?:[A-Za-z0-9_-]{1,128}(?:\/[A-Za-z0-9_-]{1,128}){0,7}\/?)?$/

/** What a path is to the UI: one of its files, its page, or not its business. */
export const resolve = (assets: Assets.Assets, path: string): Assets.Asset | undefined => {
  const file = assets.files.get(path)
  if (file !== undefined) return file
  if (!appRoute.test(path)) return undefined
  const first = path.split("/")[1] ?? ""
  return reservedSegments.has(first) ? undefined : assets.page
}

/**
 * The page may run only this origin's script and style, talk only to this
 * origin, and be framed by nobody.
 */
export const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join("; ")

const accepts = (header: string | undefined, encoding: string): boolean =>
  header?.split(",").some((part) => part.trim().split(";")[0]?.trim() === encoding) ?? false

/** The answer for a file: 304 when the client has it, gzipped when it takes gzip. */
export const respond = (asset: Assets.Asset, request: HttpServerRequest.HttpServerRequest): Response => {
  const headers: Record<string, string> = {
    etag: asset.etag,
    "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    "x-content-type-options": "nosniff",
    vary: "accept-encoding"
  }
  if (!asset.immutable) {
    headers["content-security-policy"] = contentSecurityPolicy
    headers["referrer-policy"] = "same-origin"
  }
  const ifNoneMatch = request.headers["if-none-match"]
  if (ifNoneMatch?.split(",").some((tag) => tag.trim() === asset.etag)) {
    return HttpServerResponse.empty({ status: 304, headers })
  }
  if (asset.gzip !== undefined && accepts(request.headers["accept-encoding"], "gzip")) {
    headers["content-encoding"] = "gzip"
    return HttpServerResponse.uint8Array(asset.gzip, { contentType: asset.contentType, headers })
  }
  return HttpServerResponse.uint8Array(asset.body, { contentType: asset.contentType, headers })
}

const pathOf = (url: string) => {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

/** The handler for every GET the router has no other route for. */
export const handler =
  (assets: Assets.Assets) =>
  (request: HttpServerRequest.HttpServerRequest): Effect.Effect<Response, HttpServerError.HttpServerError> => {
    const found = resolve(assets, pathOf(request.url))
    return found === undefined
      ? Effect.fail(new HttpServerError.HttpServerError({ reason: new HttpServerError.RouteNotFound({ request }) }))
      : Effect.succeed(respond(found, request))
  }

/** `WEB_UI=off` serves the API alone. */
export const enabledConfig = Config.Boolean("WEB_UI").pipe(Config.withDefault(true))

/** The UI's routes on the router, from the assets given. */
export const routes = (assets: Assets.Assets) =>
  HttpRouter.use((router) =>
    Effect.gen(function* () {
      yield* router.add("GET", "/", handler(assets))
      yield* router.add("GET", "/*", handler(assets))
    })
  )

/** Builds the UI at start-up (a few tens of milliseconds) and mounts it; nothing when `WEB_UI=off`. */
export const layer = Layer.unwrap(
  Effect.gen(function* () {
    if (!(yield* enabledConfig)) {
      yield* Effect.logInfo("Web UI: off (WEB_UI=off)")
      return Layer.empty
    }
    const [elapsed, assets] = yield* Effect.timed(Assets.make())
    yield* Effect.logInfo(`Web UI: built in ${Math.round(Duration.toMillis(elapsed))} ms, served at /`)
    return routes(assets)
  })
)
