import { Api, Faults, RouteTable } from "@agora/api"
import { ReadModels } from "@agora/app"
import { PgEventStore } from "@agora/eventstore"
import { MemoryReadModelStore } from "@agora/readmodels"
import { TestDatabase } from "@agora/testkit"
import { TcpProxy } from "@agora/testkit/tcp-proxy"
import { NodeHttpServer } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Redacted, References } from "effect"
import { HttpClient, HttpRouter } from "effect/http"
import { HttpApp } from "../src/HttpApp.ts"

/**
 * The operational routes on a test database and a random port, with the API
 * edge's fault handling (which answers a request no route takes).
 */
const serverOn = <E, R>(database: Layer.Layer<PgClient.PgClient, E, R>) =>
  HttpRouter.serve(Layer.mergeAll(HttpApp, Faults.layer), { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provide(RouteTable.RouteTable.layer(Api, RouteTable.operationalRoutes)),
    Layer.provide(ReadModels.layer.pipe(Layer.provideMerge(MemoryReadModelStore.layer))),
    Layer.provide(PgEventStore.layer()),
    Layer.provide(database),
    Layer.provideMerge(NodeHttpServer.layerTest),
    // The outage tests make the server warn on purpose.
    Layer.provide(Layer.succeed(References.MinimumLogLevel, "Error"))
  )

const get = (path: string) =>
  Effect.gen(function* () {
    const response = yield* HttpClient.get(path)
    const body = yield* response.json
    return { status: response.status, contentType: response.headers["content-type"], body }
  })

const databaseBehindProxy = Layer.unwrap(
  Effect.gen(function* () {
    const { url } = yield* TcpProxy
    return PgClient.layer({ url: Redacted.make(url) })
  })
)

const ProxiedServer = serverOn(databaseBehindProxy).pipe(
  Layer.provideMerge(Layer.unwrap(Effect.map(TestDatabase.create("server_down"), TcpProxy.layer)))
)

describe("HttpApp", () => {
  // Real clock: the readiness check's time limit must actually elapse.
  layer(serverOn(TestDatabase.layer("server_http")), { excludeTestServices: true })("event store up", (it) => {
    it.effect("GET /api/health is 200 ok", () =>
      Effect.gen(function* () {
        const res = yield* get("/api/health")
        assert.deepStrictEqual(res, { status: 200, contentType: "application/json", body: { status: "ok" } })
      })
    )

    it.effect("GET /api/ready is 200 with the event store up", () =>
      Effect.gen(function* () {
        const res = yield* get("/api/ready")
        assert.strictEqual(res.status, 200)
        const body = res.body as {
          status: string
          checks: {
            event_store: { status: string; latency_ms: number }
            read_models: { status: string; projections: Record<string, Record<string, unknown>> }
          }
        }
        assert.strictEqual(body.status, "ready")
        assert.strictEqual(body.checks.event_store.status, "up")
        assert.isAtLeast(body.checks.event_store.latency_ms, 0)
        assert.strictEqual(body.checks.read_models.status, "up")
        assert.sameMembers(Object.keys(body.checks.read_models.projections), ["orders", "accounts", "catalog"])
        assert.deepInclude(body.checks.read_models.projections.orders, {
          running_here: true,
          partitions: 1,
          partitions_here: [0],
          generation: 1,
          last_error: null,
          parked: []
        })
        assert.isNumber(body.checks.read_models.projections.orders?.behind_events)
      })
    )

    it.effect("an unknown route is a 404 problem", () =>
      Effect.gen(function* () {
        const res = yield* get("/api/no-such-thing")
        assert.deepStrictEqual(res, {
          status: 404,
          contentType: "application/problem+json",
          body: {
            type: "about:blank",
            title: "Not Found",
            status: 404,
            detail: "No route for GET /api/no-such-thing",
            code: "route_not_found"
          }
        })
      })
    )

    it.effect("a known path with another method is a 405 problem with Allow", () =>
      Effect.gen(function* () {
        const response = yield* HttpClient.post("/api/health")
        assert.strictEqual(response.status, 405)
        assert.strictEqual(response.headers.allow, "GET, HEAD, OPTIONS")
        assert.strictEqual(response.headers["content-type"], "application/problem+json")
      })
    )
  })

  layer(ProxiedServer, { excludeTestServices: true, timeout: "60 seconds" })("event store unreachable", (it) => {
    it.effect("GET /api/ready is 503 when the database refuses connections", () =>
      Effect.gen(function* () {
        const proxy = yield* TcpProxy
        assert.strictEqual((yield* get("/api/ready")).status, 200)
        yield* proxy.set("refuse")
        const res = yield* get("/api/ready")
        assert.strictEqual(res.status, 503)
        assert.strictEqual(res.contentType, "application/problem+json")
        assert.deepInclude(res.body as object, {
          type: "about:blank",
          title: "Service Unavailable",
          status: 503,
          detail: "The event store is unreachable"
        })
        assert.strictEqual(
          (res.body as { checks: { event_store: { status: string } } }).checks.event_store.status,
          "down"
        )
      })
    )

    it.effect("GET /api/ready is 503 when the database does not answer within 2 seconds", () =>
      Effect.gen(function* () {
        const proxy = yield* TcpProxy
        yield* proxy.set("stall")
        const res = yield* get("/api/ready")
        assert.strictEqual(res.status, 503)
        const body = res.body as { detail: string; checks: { event_store: { status: string; latency_ms: number } } }
        assert.strictEqual(body.detail, "The event store did not answer within 2 seconds")
        assert.isAtLeast(body.checks.event_store.latency_ms, 2000)
        assert.isBelow(body.checks.event_store.latency_ms, 5000)
      })
    )

    it.effect("GET /api/ready is 200 again once the database is back", () =>
      Effect.gen(function* () {
        const proxy = yield* TcpProxy
        yield* proxy.set("forward")
        assert.strictEqual((yield* get("/api/ready")).status, 200)
      })
    )
  })
})
