import { randomUUID } from "node:crypto"
import { Catalog } from "@agora/app"
import { Money } from "@agora/domain"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { HttpMetrics } from "../../src/index.ts"
import { call, makeServer } from "../ApiHarness.ts"
import { scrape, total } from "../PrometheusText.ts"

const duration = "agora_http_request_duration_seconds"
const requests = "agora_http_requests_total"

const define = (sku: string) =>
  Effect.flatMap(Catalog.Catalog, (catalog) =>
    catalog.defineProduct({ sku, name: `Part ${sku}`, price: Money.make(1_00), initialStock: 1 })
  ).pipe(Effect.orDie)

layer(makeServer("api-http-metrics"), { excludeTestServices: true, timeout: "120 seconds" })(
  "request metrics at the edge",
  (it) => {
    it.effect("a request is timed and counted under its route template, method and status", () =>
      Effect.gen(function* () {
        const sku = `MET-${randomUUID().slice(0, 8).toUpperCase()}`
        yield* define(sku)
        const found = { method: "GET", route: "/api/products/:sku", status: "200" }
        const missing = { ...found, status: "404" }
        const before = (yield* scrape).samples
        assert.strictEqual((yield* call("GET", `/api/products/${sku}`)).status, 200)
        assert.strictEqual((yield* call("GET", `/api/products/${sku}`)).status, 200)
        assert.strictEqual((yield* call("GET", "/api/products/NO-SUCH-SKU")).status, 404)
        const { reply, samples } = yield* scrape
        assert.include(reply.contentType, "text/plain; version=0.0.4")

        assert.strictEqual(total(samples, `${duration}_count`, found) - total(before, `${duration}_count`, found), 2)
        assert.strictEqual(total(samples, requests, found) - total(before, requests, found), 2)
        assert.strictEqual(total(samples, requests, missing) - total(before, requests, missing), 1)
        // Every request took less than 10 s, and the buckets are cumulative up to +Inf.
        const count = total(samples, `${duration}_count`, found)
        assert.strictEqual(total(samples, `${duration}_bucket`, { ...found, le: "10" }), count)
        assert.strictEqual(total(samples, `${duration}_bucket`, { ...found, le: "+Inf" }), count)
        assert.isAbove(total(samples, `${duration}_sum`, found), 0)
        // The URL itself is never a label.
        assert.isFalse(samples.some((s) => Object.values(s.labels).some((v) => v.includes(sku))))
      })
    )

    it.effect("a path no route has is counted as `unmatched`, never under its raw path", () =>
      Effect.gen(function* () {
        const path = `/no-such-route-${randomUUID()}`
        const notFound = { method: "GET", route: HttpMetrics.unmatched, status: "404" }
        const wrongMethod = { method: "DELETE", route: HttpMetrics.unmatched, status: "405" }
        const before = (yield* scrape).samples
        assert.strictEqual((yield* call("GET", path)).status, 404)
        assert.strictEqual((yield* call("GET", `${path}/deeper?x=1`)).status, 404)
        assert.strictEqual((yield* call("DELETE", "/api/products")).status, 405)
        const { reply, samples } = yield* scrape
        assert.strictEqual(total(samples, requests, notFound) - total(before, requests, notFound), 2)
        assert.strictEqual(total(samples, requests, wrongMethod) - total(before, requests, wrongMethod), 1)
        assert.notInclude(reply.body as string, "no-such-route")
      })
    )

    it.effect("the scrape itself is counted under /metrics", () =>
      Effect.gen(function* () {
        yield* scrape
        const { samples } = yield* scrape
        assert.isAtLeast(total(samples, requests, { method: "GET", route: "/metrics", status: "200" }), 1)
      })
    )
  }
)
