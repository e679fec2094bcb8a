/**
 * The UI's build and its serving, without the rest of the server: which paths
 * are the UI's, what each answer's headers say, and that no path reaches a
 * file outside the build.
 */
import { NodeFileSystem, NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { HttpClient, HttpClientRequest, HttpRouter, HttpServerResponse } from "effect/http"
import * as Assets from "../src/Assets.ts"
import * as WebUi from "../src/WebUi.ts"

class Built extends Context.Service<Built, Assets.Assets>()("test/Built") {}

const BuiltLive = Layer.effect(Built, Assets.make()).pipe(Layer.provide(NodeFileSystem.layer))

// The UI's routes, and one route of "the API" beside them, as the server mounts them.
const Served = Layer.unwrap(
  Effect.map(Built, (assets) =>
    HttpRouter.serve(
      Layer.mergeAll(WebUi.routes(assets), HttpRouter.add("GET", "/api/health", HttpServerResponse.text("ok"))),
      { disableListenLog: true, disableLogger: true }
    )
  )
).pipe(Layer.provideMerge(NodeHttpServer.layerTest), Layer.provideMerge(BuiltLive))

const fetchPath = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(HttpClientRequest.get(path).pipe(HttpClientRequest.setHeaders(headers)))
    const body = new Uint8Array(yield* response.arrayBuffer)
    return { status: response.status, headers: response.headers, body }
  })

const text = (body: Uint8Array) => new TextDecoder().decode(body)

describe("WebUi", () => {
  layer(Served, { excludeTestServices: true })("the build", (it) => {
    it.effect("the page loads the script, the stylesheet and the icon, each a built file under /assets/", () =>
      Effect.gen(function* () {
        const assets = yield* Built
        const html = text(assets.page.body)
        const urls = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] ?? "")
        assert.lengthOf(urls, 3)
        for (const url of urls) assert.isDefined(assets.files.get(url), url)
        assert.match(html, /<script type="module" src="\/assets\/app-[\w-]+\.js">/)
        assert.match(html, /<link rel="stylesheet" href="\/assets\/styles-[\w-]+\.css"/)
        assert.notMatch(html, /\{\{/)
      })
    )

    it.effect("the script is one self-contained ES module with its source map", () =>
      Effect.gen(function* () {
        const assets = yield* Built
        const [url, script] = [...assets.files].find(([path]) => /\/app-[\w-]+\.js$/.test(path)) ?? []
        assert.isDefined(script)
        const code = text(script?.body ?? new Uint8Array())
        assert.notMatch(code, /^import\s/m, "no import left for the browser to resolve")
        assert.include(code, "/api/orders/")
        assert.isDefined(assets.files.get(`${url}.map`))
      })
    )
  })

  describe("which paths are the UI's", () => {
    const assets: Assets.Assets = {
      page: Assets.asset("index.html", new TextEncoder().encode("<!doctype html>"), false),
      files: new Map([["/assets/app-ABC.js", Assets.asset("app.js", new TextEncoder().encode("x"), true)]])
    }
    const isPage = (path: string) => WebUi.resolve(assets, path) === assets.page

    it("the app's routes are the page", () => {
      for (const path of [
        "/",
        "/cart",
        "/cart/",
        "/orders",
        "/orders/01a20a05-a8d6-707d-8b24-e1883e485c38",
        "/apiary"
      ]) {
        assert.isTrue(isPage(path), path)
      }
    })

    it("a built file is itself; a missing one is nothing, not the page", () => {
      assert.strictEqual(WebUi.resolve(assets, "/assets/app-ABC.js"), assets.files.get("/assets/app-ABC.js"))
      assert.isUndefined(WebUi.resolve(assets, "/assets/app-OLD.js"))
      assert.isUndefined(WebUi.resolve(assets, "/assets"))
    })

    it("the API, the docs, metrics and the simulators are never the page", () => {
      for (const path of [
        "/api",
        "/api/",
        "/api/no-such-thing",
        "/docs",
        "/redoc",
        "/metrics",
        "/sim/payment-provider"
      ]) {
        assert.isUndefined(WebUi.resolve(assets, path), path)
      }
    })

    it("dots, escapes and other odd paths are nothing (no traversal, no file names)", () => {
      for (const path of [
        "/assets/../package.json",
        "/../package.json",
        "/%2e%2e/package.json",
        "/orders/..",
        "/favicon.ico",
        "/index.html",
        "/a b",
        "/a%2Fb",
        "//evil.example",
        "/orders\\x",
        `/${"a".repeat(129)}`
      ]) {
        assert.isUndefined(WebUi.resolve(assets, path), path)
      }
    })
  })

  layer(Served, { excludeTestServices: true })("served", (it) => {
    it.effect("the page: HTML, revalidated each time, with a strict CSP", () =>
      Effect.gen(function* () {
        const reply = yield* fetchPath("/orders/01a20a05-a8d6-707d-8b24-e1883e485c38")
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(reply.headers["content-type"], "text/html; charset=utf-8")
        assert.strictEqual(reply.headers["cache-control"], "no-cache")
        assert.strictEqual(reply.headers["x-content-type-options"], "nosniff")
        assert.include(reply.headers["content-security-policy"] ?? "", "script-src 'self'")
        assert.include(reply.headers["content-security-policy"] ?? "", "frame-ancestors 'none'")
        assert.include(text(reply.body), '<main id="main"')
      })
    )

    it.effect("a built file: its type, cached for good, gzipped for who takes it, 304 when unchanged", () =>
      Effect.gen(function* () {
        const assets = yield* Built
        const [url, script] = [...assets.files].find(([path]) => /\/app-[\w-]+\.js$/.test(path)) ?? []
        assert.isDefined(url)
        const plain = yield* fetchPath(url ?? "", { "accept-encoding": "identity" })
        assert.strictEqual(plain.status, 200)
        assert.strictEqual(plain.headers["content-type"], "text/javascript; charset=utf-8")
        assert.strictEqual(plain.headers["cache-control"], "public, max-age=31536000, immutable")
        assert.isUndefined(plain.headers["content-encoding"])
        assert.deepStrictEqual(plain.body, script?.body)

        const zipped = yield* fetchPath(url ?? "", { "accept-encoding": "br, gzip;q=0.8" })
        assert.strictEqual(zipped.headers["content-encoding"], "gzip")
        assert.strictEqual(zipped.headers.vary, "accept-encoding")
        // The client (fetch) gunzips it: the same bytes arrive.
        assert.deepStrictEqual(zipped.body, script?.body)

        const again = yield* fetchPath(url ?? "", { "if-none-match": plain.headers.etag ?? "" })
        assert.strictEqual(again.status, 304)
        assert.strictEqual(again.body.byteLength, 0)

        const css = [...assets.files.keys()].find((path) => path.endsWith(".css")) ?? ""
        assert.strictEqual((yield* fetchPath(css)).headers["content-type"], "text/css; charset=utf-8")
        const svg = [...assets.files.keys()].find((path) => path.endsWith(".svg")) ?? ""
        assert.strictEqual((yield* fetchPath(svg)).headers["content-type"], "image/svg+xml")
      })
    )

    it.effect("what is not the UI's is left to the router: 404, and the API's own routes still answer", () =>
      Effect.gen(function* () {
        assert.strictEqual(text((yield* fetchPath("/api/health")).body), "ok")
        for (const path of ["/api/nope", "/assets/app-OLD.js", "/favicon.ico", "/docs"]) {
          const reply = yield* fetchPath(path)
          assert.strictEqual(reply.status, 404, path)
          assert.notInclude(text(reply.body), "<!doctype html>", path)
        }
      })
    )
  })
})
