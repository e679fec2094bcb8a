/**
 * Traces over OTLP: the server, run as its own process with
 * `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a small collector (a node:http
 * server taking OTLP/HTTP JSON at `/v1/traces`), exports the spans of an
 * order — its HTTP request named after the route, the actor command it
 * sends (in the same trace, below the request), the saga's steps — with the
 * service's name and version, and its JSON log lines carry the trace id.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import packageJson from "../package.json" with { type: "json" }
import { awaitStatus, collectLines, customer, eventually, placeOrder } from "./OrderFlow.ts"
import { type ServerProcess, start } from "./ServerProcess.ts"

interface Attribute {
  readonly key: string
  readonly value: { readonly stringValue?: string; readonly intValue?: string | number }
}

interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly attributes: ReadonlyArray<Attribute>
}

interface Export {
  readonly path: string
  readonly contentType: string
  readonly resource: ReadonlyArray<Attribute>
  readonly spans: ReadonlyArray<Span>
}

/** A collector that keeps every export it receives. */
const collector = Effect.acquireRelease(
  Effect.promise(async () => {
    const exports: Array<Export> = []
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      let body = ""
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString()
      })
      request.on("end", () => {
        const data = JSON.parse(body) as {
          readonly resourceSpans: ReadonlyArray<{
            readonly resource: { readonly attributes: ReadonlyArray<Attribute> }
            readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<Span> }>
          }>
        }
        for (const resourceSpans of data.resourceSpans) {
          exports.push({
            path: request.url ?? "",
            contentType: request.headers["content-type"] ?? "",
            resource: resourceSpans.resource.attributes,
            spans: resourceSpans.scopeSpans.flatMap((scope) => scope.spans)
          })
        }
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const { port } = server.address() as AddressInfo
    return { url: `http://127.0.0.1:${port}`, exports, server }
  }),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
)

class Setup extends Context.Service<
  Setup,
  {
    readonly server: ServerProcess
    readonly exports: ReadonlyArray<Export>
    readonly lines: () => ReadonlyArray<string>
  }
>()("test/Setup") {}

const SetupLive = Layer.effect(
  Setup,
  Effect.gen(function* () {
    const { url, exports } = yield* collector
    const database = yield* TestDatabase.create("otlp-traces")
    const server = yield* start({
      DATABASE_URL: database,
      REDIS_URL: "",
      AMQP_URL: "",
      KAFKA_BROKERS: "",
      JWT_SECRET: "otlp-secret-otlp-secret-otlp-secret-otlp!",
      PAYMENT_PROVIDER_SECRET: "otlp-webhook-secret",
      ADMIN_EMAILS: "admin@example.com",
      LOG_FORMAT: "json",
      OTEL_EXPORTER_OTLP_ENDPOINT: url,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_SERVICE_NAME: "",
      OTEL_SDK_DISABLED: "false",
      PAYMENT_SIMULATOR_DELAY: "20 millis",
      SHIPPING_SIMULATOR_DELAY: "50 millis",
      RATE_LIMIT_CAPACITY: "1000000",
      RATE_LIMIT_REFILL_PER_SECOND: "1000000"
    })
    const lines = collectLines(server.child.stdout)
    return { server, exports, lines }
  })
)

const attribute = (span: Span | undefined, key: string): string | undefined => {
  const value = span?.attributes.find((a) => a.key === key)?.value
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : String(value.intValue))
}

layer(SetupLive, { excludeTestServices: true, timeout: "180 seconds" })("traces over OTLP", (it) => {
  it.effect(
    "an order's request, actor command and saga steps arrive as spans, the request and command in one trace",
    () =>
      Effect.gen(function* () {
        const { server, exports, lines } = yield* Setup
        const spans = () => exports.flatMap((e) => e.spans)
        const id = yield* Effect.promise(async () => {
          const token = await customer(server.url, "1000.00")
          const { id } = await placeOrder(server.url, token)
          await awaitStatus(server.url, token, id, "SHIPPED")
          await eventually("the saga's last step exported", () =>
            spans().some((s) => s.name === "Saga.record_shipment" && attribute(s, "correlation_id") === id)
          )
          return id
        })

        const all = spans()
        const byId = new Map(all.map((s) => [s.spanId, s]))
        const command = all.find((s) => s.name === "Actor.order.PlaceOrder" && attribute(s, "actor.id") === id)
        assert.isDefined(command, "the span of the PlaceOrder command")
        // Up the parents, within the trace, to the request's span, named after its route.
        let root = command
        while (root?.parentSpanId !== undefined && root.parentSpanId !== "" && byId.has(root.parentSpanId)) {
          const parent = byId.get(root.parentSpanId)!
          assert.strictEqual(parent.traceId, command!.traceId)
          root = parent
        }
        assert.strictEqual(root?.name, "POST /api/orders")
        assert.strictEqual(root?.traceId, command?.traceId)

        for (const step of ["reserve", "pay", "request_shipment", "record_shipment"]) {
          assert.isTrue(
            all.some((s) => s.name === `Saga.${step}` && attribute(s, "correlation_id") === id),
            `a span Saga.${step} for the order`
          )
        }

        const first = exports[0]!
        assert.strictEqual(first.path, "/v1/traces")
        assert.include(first.contentType, "application/json")
        assert.strictEqual(attribute({ attributes: first.resource } as Span, "service.name"), "agora")
        assert.strictEqual(attribute({ attributes: first.resource } as Span, "service.version"), packageJson.version)

        // The request's log line names its trace.
        const placed = lines()
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((line) => line.correlation_id === id && String(line.message).startsWith("order placed"))
        assert.strictEqual(placed?.trace_id, command?.traceId)
      })
  )
})
