import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { HttpClient } from "effect/http"
import { Docs } from "../src/index.ts"
import { call, makeServer } from "./ApiHarness.ts"

/** The markup of a page without the contents of its scripts and styles (bundled code mentions URLs freely). */
const markupOf = (html: string) =>
  html
    .replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, (tag) => tag.replace(/>[\s\S]*<\/script>$/i, "></script>"))
    .replace(/<style\b[^>]*>[\s\S]*?<\/style>/gi, "<style></style>")

/** Every URL the markup points at (`src`, `href`, ReDoc's `spec-url`). */
const urlsOf = (html: string) =>
  [...markupOf(html).matchAll(/\b(?:src|href|spec-url)\s*=\s*"([^"]*)"/gi)].map((match) => match[1]!)

/** Fetches a path and reads the body as raw bytes (the harness `call` would try JSON). */
const fetchRaw = (path: string) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const response = yield* http.get(path)
    return { status: response.status, headers: response.headers, body: yield* response.text }
  }).pipe(Effect.orDie)

layer(makeServer("api-docs"), { excludeTestServices: true, timeout: "120 seconds" })("documentation pages", (it) => {
  it.effect("/redoc is a page that loads only this server's bundle and document", () =>
    Effect.gen(function* () {
      const page = yield* call("GET", Docs.redocPath)
      assert.strictEqual(page.status, 200)
      assert.include(page.contentType, "text/html")
      const html = page.body as string
      assert.notMatch(html, /https?:\/\//)
      const urls = urlsOf(html)
      assert.includeMembers(urls, ["/api/openapi.json"])
      assert.isTrue(
        urls.some((url) => url.startsWith(`${Docs.redocBundlePath}?v=`)),
        urls.join(", ")
      )
      for (const url of urls) assert.match(url, /^\/[^/]/, `not a local URL: ${url}`)
    })
  )

  it.effect("the ReDoc bundle is JavaScript, cacheable, and the document it renders is served", () =>
    Effect.gen(function* () {
      const page = (yield* call("GET", Docs.redocPath)).body as string
      const bundleUrl = urlsOf(page).find((url) => url.startsWith(Docs.redocBundlePath))!
      const bundle = yield* fetchRaw(bundleUrl)
      assert.strictEqual(bundle.status, 200)
      assert.include(bundle.headers["content-type"], "text/javascript")
      assert.include(bundle.headers["cache-control"], "max-age=")
      assert.isAbove(bundle.body.length, 100_000)
      assert.include(bundle.body, "Redoc")
      const spec = yield* call("GET", "/api/openapi.json")
      assert.strictEqual(spec.status, 200)
      assert.isString(spec.body.openapi)
    })
  )

  it.effect("the ReDoc page allows no other origin", () =>
    Effect.gen(function* () {
      const page = yield* fetchRaw(Docs.redocPath)
      const policy = page.headers["content-security-policy"] ?? ""
      assert.include(policy, "default-src 'none'")
      assert.include(policy, "script-src 'self'")
      assert.notMatch(policy, /https?:/)
    })
  )

  it.effect("/docs (Swagger UI) loads nothing from another host", () =>
    Effect.gen(function* () {
      const page = yield* call("GET", Docs.swaggerPath)
      assert.strictEqual(page.status, 200)
      assert.include(page.contentType, "text/html")
      const html = page.body as string
      assert.include(html, "SwaggerUIBundle")
      const markup = markupOf(html)
      assert.notMatch(markup, /https?:\/\//)
      assert.deepStrictEqual(urlsOf(html), [], "scripts and styles are inline")
    })
  )
})
