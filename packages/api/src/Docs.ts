/**
 * The API's documentation pages, served whole by this process: they work
 * offline and send no visitor to a third party (no CDN).
 *
 * - `/docs`: Swagger UI; Effect inlines its scripts and styles in the page.
 * - `/redoc`: ReDoc, a page that loads the standalone bundle of the `redoc`
 *   package from `/redoc/redoc.standalone.js` and renders the OpenAPI document.
 *
 * The bundle (about 1 MB) is read once, at start-up. The page asks for it with
 * a hash of its content in the query, so browsers may keep it for good: another
 * version of the package is another URL. The page's Content-Security-Policy
 * allows nothing but this origin (and the search worker ReDoc makes from a
 * blob), which also keeps the one image ReDoc fetches from its vendor's CDN,
 * the sidebar logo, from being fetched.
 */
import { createHash } from "node:crypto"
import { createRequire } from "node:module"
import { Effect, FileSystem, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { type HttpApi, type HttpApiGroup, HttpApiSwagger, OpenApi } from "effect/http-api"

/** Where Swagger UI is served. */
export const swaggerPath = "/docs"
/** Where ReDoc is served. */
export const redocPath = "/redoc"
/** Where the ReDoc page loads its bundle from. */
export const redocBundlePath = "/redoc/redoc.standalone.js"

const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** The ReDoc page for a document at `specUrl`, loading the bundle at `bundleUrl`. */
export const redocPage = (options: { readonly title: string; readonly specUrl: string; readonly bundleUrl: string }) =>
  `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>${escapeHtml(options.title)}</title>
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="${escapeHtml(options.specUrl)}"></redoc>
  <script src="${escapeHtml(options.bundleUrl)}"></script>
</body>
</html>
`

// The package's bundle, found as Node resolves it from this module; a missing one is a broken install.
const readBundle = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const file = yield* Effect.try(() => createRequire(import.meta.url).resolve("redoc/bundles/redoc.standalone.js"))
  return yield* fs.readFile(file)
}).pipe(Effect.orDie)

/** ReDoc at `/redoc` for the document served at `openapiPath`, and its bundle. */
export const redocLayer = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>,
  options: { readonly openapiPath: `/${string}` }
): Layer.Layer<never, never, HttpRouter.HttpRouter | FileSystem.FileSystem> =>
  HttpRouter.use((router) =>
    Effect.gen(function* () {
      const bundle = yield* readBundle
      const version = createHash("sha256").update(bundle).digest("hex").slice(0, 16)
      const script = HttpServerResponse.uint8Array(bundle, {
        contentType: "text/javascript; charset=utf-8",
        headers: { "cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff" }
      })
      const page = HttpServerResponse.html(
        redocPage({
          title: `${OpenApi.fromApi(api).info.title} — API reference`,
          specUrl: options.openapiPath,
          bundleUrl: `${redocBundlePath}?v=${version}`
        })
      ).pipe(
        HttpServerResponse.setHeaders({
          "content-security-policy": contentSecurityPolicy,
          "cache-control": "no-cache",
          "x-content-type-options": "nosniff"
        })
      )
      yield* router.add("GET", redocPath, page)
      yield* router.add("GET", redocBundlePath, script)
    })
  )

/** Swagger UI at `/docs` and ReDoc at `/redoc`, both for the document served at `openapiPath`. */
export const layer = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>,
  options: { readonly openapiPath: `/${string}` }
): Layer.Layer<never, never, HttpRouter.HttpRouter | FileSystem.FileSystem> =>
  Layer.mergeAll(HttpApiSwagger.layer(api, { path: swaggerPath }), redocLayer(api, options))
