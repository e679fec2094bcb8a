/**
 * What the server tells about an order, run as its own process with
 * `LOG_FORMAT=json` and no trace exporter: one JSON object per log line; the
 * order's id as `correlation_id` on the lines of its HTTP request, its saga,
 * the outbox relay and the broker's deliveries; the request's id given back
 * and logged; no line for a plain read; and `/metrics` with the sagas by
 * stage and the outbox backlog.
 */
import { randomUUID } from "node:crypto"
import { isDeepStrictEqual } from "node:util"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { awaitStatus, collectLines, customer, eventually, placeOrder } from "./OrderFlow.ts"
import { type ServerProcess, start } from "./ServerProcess.ts"

interface LogLine {
  readonly timestamp: string
  readonly level: string
  readonly message: string
  readonly [field: string]: unknown
}

class Server extends Context.Service<
  Server,
  { readonly process: ServerProcess; readonly lines: () => ReadonlyArray<string> }
>()("test/Server") {}

const ServerLive = Layer.effect(
  Server,
  Effect.gen(function* () {
    const database = yield* TestDatabase.create("observability")
    const server = yield* start({
      DATABASE_URL: database,
      REDIS_URL: "",
      AMQP_URL: "",
      KAFKA_BROKERS: "",
      JWT_SECRET: "obs-secret-obs-secret-obs-secret-obs!",
      PAYMENT_PROVIDER_SECRET: "obs-webhook-secret",
      ADMIN_EMAILS: "admin@example.com",
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      HTTP_ACCESS_LOG: "false",
      OTEL_EXPORTER_OTLP_ENDPOINT: "",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
      PAYMENT_SIMULATOR_DELAY: "20 millis",
      SHIPPING_SIMULATOR_DELAY: "50 millis",
      RATE_LIMIT_CAPACITY: "1000000",
      RATE_LIMIT_REFILL_PER_SECOND: "1000000"
    })
    // Every stdout line from here on (the start-up lines before are not needed).
    const lines = collectLines(server.child.stdout)
    return { process: server, lines }
  })
)

const parsed = (lines: ReadonlyArray<string>): ReadonlyArray<LogLine> =>
  lines.map((line) => {
    const value: unknown = JSON.parse(line)
    assert.isObject(value, line)
    const entry = value as LogLine
    assert.isString(entry.timestamp, line)
    assert.isFalse(Number.isNaN(Date.parse(entry.timestamp)), line)
    assert.include(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], entry.level, line)
    assert.isString(entry.message, line)
    return entry
  })

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The metric samples of a scrape, by name and labels. */
const scrape = async (url: string) => {
  const text = await (await fetch(`${url}/metrics`)).text()
  const samples = new Map<string, number>()
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line)
    if (match !== null) samples.set(match[1]!, Number(match[2]))
  }
  return { text, value: (series: string) => samples.get(series) }
}

const stages = [
  "reserving",
  "paying",
  "awaiting_payment",
  "requesting_shipment",
  "awaiting_shipment",
  "recording_shipment",
  "shipped",
  "cancelling",
  "cancelled"
]

layer(ServerLive, { excludeTestServices: true, timeout: "180 seconds" })("observability of an order", (it) => {
  it.effect("its id is the correlation id of the log lines of its request, saga, outbox and broker messages", () =>
    Effect.gen(function* () {
      const { process: server, lines } = yield* Server
      const requestId = `obs-test-${randomUUID()}`
      const id = yield* Effect.promise(async () => {
        const token = await customer(server.url, "1000.00")
        const placed = await placeOrder(server.url, token, { "x-request-id": requestId })
        assert.strictEqual(placed.response.headers.get("x-request-id"), requestId)
        await awaitStatus(server.url, token, placed.id, "SHIPPED")
        return placed.id
      })
      // The relay publishes order.shipped right after the order is marked SHIPPED.
      const ours = () => parsed(lines()).filter((line) => line.correlation_id === id)
      yield* Effect.promise(() =>
        eventually("order.shipped published", () =>
          ours().some((line) => line.message === "outbox: published order.shipped")
        )
      )
      const all = parsed(lines())
      const mine = ours()

      // The HTTP request: its id and the order's.
      const placedLine = mine.find((line) => line.message.startsWith("order placed"))
      assert.isDefined(placedLine, "an 'order placed' line")
      assert.strictEqual(placedLine?.request_id, requestId)

      // The saga: each step taken, the first ones caused by the OrderPlaced event.
      const steps = mine.filter((line) => line.saga_step !== undefined)
      assert.includeMembers(
        steps.map((line) => line.saga_step),
        ["reserve", "pay", "request_shipment", "record_shipment"]
      )
      const reserve = steps.find((line) => line.saga_step === "reserve")
      assert.match(String(reserve?.causation_id), uuid)

      // The outbox relay: every message of the order, each with its event id.
      const published = mine.filter((line) => line.message.startsWith("outbox: published"))
      assert.includeMembers(
        published.map((line) => line.topic),
        ["order.created", "payment.succeeded", "order.paid", "order.shipped"]
      )
      for (const line of published) assert.match(String(line.event_id), uuid, line.message)

      // The broker: the shipping service's delivery of order.paid, the inbox's of order.shipped.
      const simulator = mine.find(
        (line) => line.topic === "order.paid" && line.message.startsWith("Shipping simulator")
      )
      assert.isDefined(simulator, "the shipping simulator's line, on its order.paid delivery")
      assert.match(String(simulator?.event_id), uuid)
      const inbox = mine.find((line) => line.message === "shipping inbox: order.shipped received")
      assert.isDefined(inbox, "the shipping inbox's line")
      assert.match(String(inbox?.event_id), uuid)

      // No exporter: no trace context on any line.
      assert.isFalse(
        all.some((line) => "trace_id" in line),
        "a line with a trace id while tracing is off"
      )
    })
  )

  it.effect("answers every request with an id, its own when sane, and logs nothing for a plain read", () =>
    Effect.gen(function* () {
      const { process: server, lines } = yield* Server
      const headerOf = (headers: Record<string, string>) =>
        Effect.promise(async () => (await fetch(`${server.url}/api/health`, { headers })).headers.get("x-request-id"))
      assert.strictEqual(yield* headerOf({ "x-request-id": "abc-123_x.y:z" }), "abc-123_x.y:z")
      // Made here: this process's prefix and a count, a new one each time.
      const made = [
        yield* headerOf({}),
        yield* headerOf({ "x-request-id": "not sane <script>" }),
        yield* headerOf({ "x-request-id": "x".repeat(129) })
      ]
      for (const id of made) assert.match(String(id), /^[0-9a-f]{12}-[0-9a-z]+$/)
      assert.strictEqual(new Set(made).size, made.length)

      const quiet = `quiet-${randomUUID()}`
      yield* Effect.promise(async () => {
        const token = await customer(server.url, "10.00")
        const response = await fetch(`${server.url}/api/accounts/me`, {
          headers: { authorization: `Bearer ${token}`, "x-request-id": quiet }
        })
        assert.strictEqual(response.status, 200)
        await new Promise((resolve) => setTimeout(resolve, 300))
      })
      assert.isFalse(
        lines().some((line) => line.includes(quiet)),
        "a log line for a plain read"
      )
    })
  )

  it.effect("/metrics has the sagas by stage and the outbox backlog, and they follow an order", () =>
    Effect.gen(function* () {
      const { process: server } = yield* Server
      // The baseline counts every order before this one: the gauges are refreshed every 2 s, so it is taken
      // once two scrapes a refresh apart agree.
      const sagaGauges = (metrics: Awaited<ReturnType<typeof scrape>>) =>
        stages.map((stage) => metrics.value(`agora_saga_states{status="${stage}"}`))
      const before = yield* Effect.promise(async () => {
        let previous = await scrape(server.url)
        for (let i = 0; i < 6; i++) {
          await new Promise((resolve) => setTimeout(resolve, 2500))
          const next = await scrape(server.url)
          if (isDeepStrictEqual(sagaGauges(previous), sagaGauges(next))) return next
          previous = next
        }
        return previous
      })
      assert.include(before.text, "# TYPE agora_saga_states gauge")
      assert.include(before.text, "# TYPE agora_outbox_backlog gauge")
      for (const stage of stages) assert.isDefined(before.value(`agora_saga_states{status="${stage}"}`), stage)
      const shippedBefore = before.value('agora_saga_states{status="shipped"}') ?? 0
      const publishedBefore = before.value("agora_outbox_published_total") ?? 0

      yield* Effect.promise(async () => {
        const token = await customer(server.url, "1000.00")
        const { id } = await placeOrder(server.url, token)
        await awaitStatus(server.url, token, id, "SHIPPED")
        // The gauges are refreshed every 2 s: one more saga shipped, none left in flight, nothing left to send.
        let seen = {}
        await eventually("the order counted as shipped and the outbox drained", async () => {
          const after = await scrape(server.url)
          seen = {
            shipped: after.value('agora_saga_states{status="shipped"}'),
            inFlight: stages
              .filter((stage) => stage !== "shipped" && stage !== "cancelled")
              .reduce((sum, stage) => sum + (after.value(`agora_saga_states{status="${stage}"}`) ?? Number.NaN), 0),
            backlog: after.value("agora_outbox_backlog"),
            published: after.value("agora_outbox_published_total")
          }
          return isDeepStrictEqual(seen, {
            shipped: shippedBefore + 1,
            inFlight: 0,
            backlog: 0,
            published: Math.max(publishedBefore + 4, after.value("agora_outbox_published_total") ?? 0)
          })
        }).catch((error: Error) => {
          throw new Error(`${error.message}: ${JSON.stringify({ shippedBefore, publishedBefore, seen })}`)
        })
      })
    })
  )
})
