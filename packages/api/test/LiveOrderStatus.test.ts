/**
 * Live order status over real HTTP and WebSocket connections to the test
 * server: `GET /api/orders/{id}/live` (SSE) and `/api/ws/orders/{id}`.
 */
import { randomBytes } from "node:crypto"
import { request as httpRequest } from "node:http"
import { ActorRuntime } from "@agora/actors"
import { OrderStatusFeed, Orders } from "@agora/app"
import { Order } from "@agora/domain"
import { assert, describe, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Fiber, Queue, Stream } from "effect"
import { HttpClient, HttpClientRequest, HttpServer } from "effect/http"
import { assertProblem, call, makeServer, type Reply } from "./ApiHarness.ts"
import { scrape, total } from "./PrometheusText.ts"
import { adminToken, define, freshSku, newCustomer, placeOrder } from "./ShopFixtures.ts"

const keepAlive = "250 millis"
const patience = Duration.seconds(10)

interface StatusMessage {
  readonly order_id: string
  readonly status: string
  readonly status_reason: string | null
  readonly version: number
}

/** One SSE frame: an event (its `id` and JSON `data`) or a comment line. */
type Frame =
  | { readonly _tag: "Event"; readonly id: string | undefined; readonly data: StatusMessage }
  | { readonly _tag: "Comment"; readonly text: string }

const frameOf = (block: string): ReadonlyArray<Frame> => {
  const lines = block.split("\n")
  const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim())
  if (data.length > 0) {
    const id = lines
      .find((l) => l.startsWith("id:"))
      ?.slice(3)
      .trim()
    return [{ _tag: "Event", id, data: JSON.parse(data.join("\n")) }]
  }
  return lines.filter((l) => l.startsWith(":")).map((l) => ({ _tag: "Comment", text: l.slice(1).trim() }))
}

/** What a connection received, as it arrives; `null` once it is over. */
interface Inbox<A> {
  readonly next: Effect.Effect<A | null>
  /** Everything up to the end of the connection. */
  readonly rest: Effect.Effect<ReadonlyArray<A>>
}

const inboxOf = <A>(queue: Queue.Queue<A | null>): Inbox<A> => {
  const next = Queue.take(queue).pipe(
    Effect.timeoutOrElse({ duration: patience, orElse: () => Effect.die("nothing arrived in time") })
  )
  const rest = Effect.gen(function* () {
    const items: Array<A> = []
    while (true) {
      const item = yield* next
      if (item === null) return items
      items.push(item)
    }
  })
  return { next, rest }
}

/** Opens the SSE route; the frames arrive in the inbox, the connection lives in the test's scope. */
const openSse = (path: string, token?: string) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    let request = HttpClientRequest.get(path)
    if (token !== undefined) request = HttpClientRequest.bearerToken(request, token)
    const response = yield* http.execute(request)
    const queue = yield* Queue.unbounded<Frame | null>()
    yield* response.stream.pipe(
      Stream.decodeText,
      Stream.mapAccum(
        () => "",
        (buffer, text) => {
          const blocks = (buffer + text).split("\n\n")
          const rest = blocks.pop() ?? ""
          return [rest, blocks.flatMap(frameOf)] as const
        }
      ),
      Stream.runForEach((frame) => Queue.offer(queue, frame)),
      Effect.ensuring(Queue.offer(queue, null)),
      Effect.ignore,
      Effect.forkScoped
    )
    return { status: response.status, headers: response.headers, ...inboxOf(queue) }
  }).pipe(Effect.orDie)

const eventsOf = (frames: ReadonlyArray<Frame>) =>
  frames.flatMap((frame) => (frame._tag === "Event" ? [frame.data] : []))

const nextEvent = (inbox: Inbox<Frame>) =>
  Effect.gen(function* () {
    while (true) {
      const frame = yield* inbox.next
      if (frame === null) return yield* Effect.die("the stream ended before an event")
      if (frame._tag === "Event") return frame.data
    }
  })

const serverPort = Effect.map(HttpServer.HttpServer, (server) => ("port" in server.address ? server.address.port : 0))

type WsEvent =
  | { readonly _tag: "Message"; readonly data: string }
  | { readonly _tag: "Close"; readonly code: number; readonly reason: string }

/** Opens a WebSocket (Node's global client) in the test's scope. */
const openWs = (path: string, protocols?: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const port = yield* serverPort
    const queue = yield* Queue.unbounded<WsEvent | null>()
    const socket = yield* Effect.acquireRelease(
      Effect.sync(() => new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols === undefined ? [] : [...protocols])),
      (socket) => Effect.sync(() => socket.close())
    )
    socket.onmessage = (event) => Queue.offerUnsafe(queue, { _tag: "Message", data: String(event.data) })
    socket.onclose = (event) => {
      Queue.offerUnsafe(queue, { _tag: "Close", code: event.code, reason: event.reason })
      Queue.offerUnsafe(queue, null)
    }
    yield* Effect.callback<void>((resume) => {
      socket.onopen = () => resume(Effect.void)
      socket.onerror = () => resume(Effect.die("the WebSocket did not open"))
    })
    return { socket, ...inboxOf(queue) }
  })

const messagesOf = (events: ReadonlyArray<WsEvent>) =>
  events.flatMap((event) => (event._tag === "Message" ? [JSON.parse(event.data)] : []))

const statusMessages = (events: ReadonlyArray<WsEvent>): ReadonlyArray<StatusMessage> =>
  messagesOf(events).filter((message) => message.type === undefined)

const nextMessage = (inbox: Inbox<WsEvent>) =>
  Effect.gen(function* () {
    while (true) {
      const event = yield* inbox.next
      if (event === null || event._tag === "Close") return yield* Effect.die("closed before a status message")
      const message = JSON.parse(event.data)
      if (message.type === undefined) return message as StatusMessage
    }
  })

/** An upgrade request over plain HTTP: the reply of a server that refuses it, or 101. */
const upgradeRequest = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const port = yield* serverPort
    return yield* Effect.callback<Reply & { readonly headers: Record<string, unknown> }>((resume) => {
      const req = httpRequest({
        host: "127.0.0.1",
        port,
        path,
        headers: {
          connection: "Upgrade",
          upgrade: "websocket",
          "sec-websocket-version": "13",
          "sec-websocket-key": randomBytes(16).toString("base64"),
          ...headers
        }
      })
      req.on("upgrade", (response, socket) => {
        socket.destroy()
        resume(Effect.succeed({ status: 101, contentType: "", body: undefined, headers: response.headers }))
      })
      req.on("response", (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          text += chunk
        })
        response.on("end", () => {
          const contentType = String(response.headers["content-type"] ?? "")
          const body = text === "" ? undefined : JSON.parse(text)
          resume(Effect.succeed({ status: response.statusCode ?? 0, contentType, body, headers: response.headers }))
        })
      })
      req.on("error", (error) => resume(Effect.die(error)))
      req.end()
    })
  })

const customerWithOrder = Effect.gen(function* () {
  const sku = freshSku("LIVE")
  yield* define(sku, 10_00)
  const customer = yield* newCustomer()
  const order = yield* placeOrder(customer.token, [{ sku, quantity: 1 }])
  return { ...customer, orderId: order.id }
})

const patch = (orderId: string, status: string, token: string) =>
  Effect.gen(function* () {
    const reply = yield* call("PATCH", `/api/orders/${orderId}`, { token, json: { status } })
    assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
  })

/** Moves an order from PENDING to DELIVERED through the actors, each command right after the last. */
const rushToDelivered = (orderId: string) =>
  Effect.gen(function* () {
    const orders = yield* Orders.Orders
    for (const status of ["RESERVED", "PAID", "SHIPPED", "DELIVERED"] as const) {
      yield* orders.setStatus(orderId, status).pipe(Effect.orDie)
    }
  })

const lifecycle = ["PENDING", "RESERVED", "PAID", "SHIPPED", "DELIVERED"]

/** Waits (bounded) until the order has `count` watchers. */
const awaitWatchers = (orderId: string, count: number) =>
  Effect.gen(function* () {
    const feed = yield* OrderStatusFeed.OrderStatusFeed
    for (let i = 0; i < 200; i++) {
      if ((yield* feed.watchers(orderId)) === count) return
      yield* Effect.sleep("25 millis")
    }
    assert.fail(`order ${orderId} did not reach ${count} watchers`)
  })

layer(makeServer("api-live-status", { config: { LIVE_STATUS_KEEPALIVE: keepAlive } }), {
  excludeTestServices: true,
  timeout: "120 seconds"
})("live order status", (it) => {
  describe("GET /api/orders/{id}/live (SSE)", () => {
    it.effect("sends the current status, then every change up to DELIVERED in order, then ends", () =>
      Effect.gen(function* () {
        const { token, orderId } = yield* customerWithOrder
        const admin = yield* adminToken
        const sse = yield* openSse(`/api/orders/${orderId}/live`, token)
        assert.strictEqual(sse.status, 200)
        assert.include(String(sse.headers["content-type"]), "text/event-stream")
        assert.strictEqual(sse.headers["cache-control"], "no-cache")
        const first = yield* nextEvent(sse)
        assert.deepStrictEqual(first, { order_id: orderId, status: "PENDING", status_reason: null, version: 1 })
        for (const status of lifecycle.slice(1)) yield* patch(orderId, status, admin)
        const frames = yield* sse.rest
        const events = frames.flatMap((frame) => (frame._tag === "Event" ? [frame] : []))
        assert.deepStrictEqual(
          events.map((e) => [e.id, e.data.status, e.data.version, e.data.status_reason]),
          [
            ["2", "RESERVED", 2, null],
            ["3", "PAID", 3, null],
            ["4", "SHIPPED", 4, null],
            ["5", "DELIVERED", 5, null]
          ]
        )
        yield* awaitWatchers(orderId, 0)
      }).pipe(Effect.scoped)
    )

    it.effect("takes the token as ?access_token= (EventSource); an admin may follow any order", () =>
      Effect.gen(function* () {
        const { orderId } = yield* customerWithOrder
        const admin = yield* adminToken
        yield* patch(orderId, "CANCELLED", admin)
        const sse = yield* openSse(`/api/orders/${orderId}/live?access_token=${admin}`)
        assert.strictEqual(sse.status, 200)
        // A terminal order: its status, then the end.
        assert.deepStrictEqual(eventsOf(yield* sse.rest), [
          { order_id: orderId, status: "CANCELLED", status_reason: "cancelled_by_admin", version: 2 }
        ])
      }).pipe(Effect.scoped)
    )

    it.effect("a cancellation carries its reason", () =>
      Effect.gen(function* () {
        const { token, orderId } = yield* customerWithOrder
        const sse = yield* openSse(`/api/orders/${orderId}/live`, token)
        assert.strictEqual((yield* nextEvent(sse)).status, "PENDING")
        const actors = yield* ActorRuntime
        yield* actors
          .send(
            Order.Order,
            orderId,
            new Order.CancelOrder({ orderId, reason: "payment_declined", at: yield* DateTime.now })
          )
          .pipe(Effect.orDie)
        assert.deepStrictEqual(eventsOf(yield* sse.rest), [
          { order_id: orderId, status: "CANCELLED", status_reason: "payment_declined", version: 2 }
        ])
      }).pipe(Effect.scoped)
    )

    it.effect("401 without a token or with a forged one; 404 to another user, for an unknown or malformed id", () =>
      Effect.gen(function* () {
        const { orderId } = yield* customerWithOrder
        const stranger = yield* newCustomer()
        const path = `/api/orders/${orderId}/live`
        assertProblem(yield* call("GET", path), 401)
        assertProblem(yield* call("GET", path, { token: "forged.token.value" }), 401)
        assertProblem(yield* call("GET", `${path}?access_token=forged.token.value`), 401)
        assertProblem(yield* call("GET", path, { token: stranger.token }), 404, "order_not_found")
        assertProblem(yield* call("GET", `${path}?access_token=${stranger.token}`), 404, "order_not_found")
        const unknown = "0190d6c4-0000-7000-8000-000000000000"
        assertProblem(yield* call("GET", `/api/orders/${unknown}/live`, { token: stranger.token }), 404)
        assertProblem(yield* call("GET", "/api/orders/not-an-id/live", { token: stranger.token }), 404)
      })
    )

    it.effect("the query token is only taken by the live routes", () =>
      Effect.gen(function* () {
        const { token, orderId } = yield* customerWithOrder
        assertProblem(yield* call("GET", `/api/orders/${orderId}?access_token=${token}`), 401)
        assertProblem(yield* call("GET", `/api/orders?access_token=${token}`), 401)
      })
    )

    it.effect("sends a comment line as keep-alive, and forgets a client that goes away", () =>
      Effect.gen(function* () {
        const { token, orderId } = yield* customerWithOrder
        yield* Effect.scoped(
          Effect.gen(function* () {
            const sse = yield* openSse(`/api/orders/${orderId}/live`, token)
            assert.strictEqual((yield* nextEvent(sse)).status, "PENDING")
            assert.deepStrictEqual(yield* sse.next, { _tag: "Comment", text: "keep-alive" })
            assert.deepStrictEqual(yield* sse.next, { _tag: "Comment", text: "keep-alive" })
            yield* awaitWatchers(orderId, 1)
          })
        )
        // The connection closed with the scope.
        yield* awaitWatchers(orderId, 0)
      })
    )

    it.effect("is documented in the OpenAPI document, with both ways to pass the token", () =>
      Effect.gen(function* () {
        const reply = yield* call("GET", "/api/openapi.json")
        const operation = reply.body.paths["/api/orders/{id}/live"]?.get
        assert.isDefined(operation)
        assert.isDefined(operation.responses["200"].content["text/event-stream"])
        assert.deepStrictEqual(operation.security, [{ bearer: [] }, { accessToken: [] }])
        assert.strictEqual(reply.body.components.securitySchemes.accessToken.in, "query")
        assert.isUndefined(reply.body.paths["/api/orders/{id}"].get.security.find((s: object) => "accessToken" in s))
      })
    )
  })

  describe("/api/ws/orders/{id} (WebSocket)", () => {
    it.effect("with ?access_token=: the current status, every change in order, then a 1000 close", () =>
      Effect.gen(function* () {
        const { token, orderId } = yield* customerWithOrder
        const admin = yield* adminToken
        const ws = yield* openWs(`/api/ws/orders/${orderId}?access_token=${token}`)
        assert.deepStrictEqual(yield* nextMessage(ws), {
          order_id: orderId,
          status: "PENDING",
          status_reason: null,
          version: 1
        })
        for (const status of lifecycle.slice(1)) yield* patch(orderId, status, admin)
        const events = yield* ws.rest
        assert.deepStrictEqual(
          statusMessages(events).map((m) => [m.status, m.version]),
          [
            ["RESERVED", 2],
            ["PAID", 3],
            ["SHIPPED", 4],
            ["DELIVERED", 5]
          ]
        )
        assert.deepStrictEqual(events.at(-1), { _tag: "Close", code: 1000, reason: "final status sent" })
        yield* awaitWatchers(orderId, 0)
      }).pipe(Effect.scoped)
    )

    it.effect("with the subprotocol bearer.<token>, echoed in the handshake", () =>
      Effect.gen(function* () {
        const { token, orderId } = yield* customerWithOrder
        const ws = yield* openWs(`/api/ws/orders/${orderId}`, [`bearer.${token}`])
        // Node's client, like browsers, fails a handshake that does not echo the protocol.
        assert.strictEqual(ws.socket.protocol, `bearer.${token}`)
        assert.strictEqual((yield* nextMessage(ws)).status, "PENDING")
        yield* rushToDelivered(orderId)
        const events = yield* ws.rest
        assert.deepStrictEqual(
          statusMessages(events).map((m) => m.status),
          lifecycle.slice(1)
        )
        assert.deepStrictEqual(events.at(-1), { _tag: "Close", code: 1000, reason: "final status sent" })
        const raw = yield* upgradeRequest(`/api/ws/orders/${orderId}`, {
          "sec-websocket-protocol": `bearer.${token}`
        })
        assert.strictEqual(raw.status, 101)
        assert.strictEqual(raw.headers["sec-websocket-protocol"], `bearer.${token}`)
      }).pipe(Effect.scoped)
    )

    it.effect("refuses before upgrading: 401 without or with a bad token, 404 to others and for unknown ids", () =>
      Effect.gen(function* () {
        const { orderId } = yield* customerWithOrder
        const stranger = yield* newCustomer()
        const path = `/api/ws/orders/${orderId}`
        assertProblem(yield* upgradeRequest(path), 401, "invalid_token")
        assertProblem(yield* upgradeRequest(`${path}?access_token=forged`), 401, "invalid_token")
        assertProblem(yield* upgradeRequest(path, { "sec-websocket-protocol": "bearer.forged" }), 401)
        assertProblem(yield* upgradeRequest(`${path}?access_token=${stranger.token}`), 404, "order_not_found")
        assertProblem(
          yield* upgradeRequest(path, { "sec-websocket-protocol": `bearer.${stranger.token}` }),
          404,
          "order_not_found"
        )
        const unknown = "0190d6c4-0000-7000-8000-000000000000"
        assertProblem(yield* upgradeRequest(`/api/ws/orders/${unknown}?access_token=${stranger.token}`), 404)
        assertProblem(yield* upgradeRequest(`/api/ws/orders/not-an-id?access_token=${stranger.token}`), 404)
        // A plain GET is told to upgrade.
        assertProblem(yield* call("GET", path, { token: yield* adminToken }), 426, "upgrade_required")
      })
    )

    it.effect("a cancellation carries its reason", () =>
      Effect.gen(function* () {
        const { token, orderId } = yield* customerWithOrder
        const ws = yield* openWs(`/api/ws/orders/${orderId}?access_token=${token}`)
        assert.strictEqual((yield* nextMessage(ws)).status, "PENDING")
        assert.strictEqual((yield* call("POST", `/api/orders/${orderId}/cancel`, { token })).status, 202)
        const events = yield* ws.rest
        assert.deepStrictEqual(statusMessages(events), [
          { order_id: orderId, status: "CANCELLED", status_reason: "cancelled_by_user", version: 2 }
        ])
        assert.deepStrictEqual(events.at(-1), { _tag: "Close", code: 1000, reason: "final status sent" })
      }).pipe(Effect.scoped)
    )

    it.effect("sends keep-alive messages, and forgets a client that goes away", () =>
      Effect.gen(function* () {
        const { token, orderId } = yield* customerWithOrder
        yield* Effect.scoped(
          Effect.gen(function* () {
            const ws = yield* openWs(`/api/ws/orders/${orderId}?access_token=${token}`)
            assert.strictEqual((yield* nextMessage(ws)).status, "PENDING")
            for (let i = 0; i < 2; i++) {
              assert.deepStrictEqual(yield* ws.next, { _tag: "Message", data: '{"type":"keepalive"}' })
            }
            yield* awaitWatchers(orderId, 1)
          })
        )
        yield* awaitWatchers(orderId, 0)
      })
    )

    it.effect("the edge counts the handshake (101), not the life of the connection", () =>
      Effect.gen(function* () {
        const { token, orderId } = yield* customerWithOrder
        const labels = { route: "/api/ws/orders/:id", status: "101" }
        const before = total((yield* scrape).samples, "agora_http_requests_total", labels)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const ws = yield* openWs(`/api/ws/orders/${orderId}?access_token=${token}`)
            yield* nextMessage(ws)
            // Counted while the connection is still open.
            const during = total((yield* scrape).samples, "agora_http_requests_total", labels)
            assert.strictEqual(during, before + 1)
          })
        )
      })
    )
  })

  it.effect("connecting while the order moves: a gap-free run of versions, in order, ending at DELIVERED", () =>
    Effect.gen(function* () {
      const orders = yield* Effect.forEach(Array.from({ length: 12 }), () => customerWithOrder)
      yield* Effect.forEach(
        orders,
        ({ token, orderId }, i) =>
          Effect.gen(function* () {
            const mover = yield* Effect.forkChild(Effect.delay(rushToDelivered(orderId), `${i % 4} millis`))
            const received =
              i % 2 === 0
                ? eventsOf(yield* (yield* openSse(`/api/orders/${orderId}/live`, token)).rest)
                : statusMessages(yield* (yield* openWs(`/api/ws/orders/${orderId}?access_token=${token}`)).rest)
            yield* Fiber.join(mover)
            const first = received[0]?.version ?? 0
            assert.isAtLeast(first, 1)
            assert.deepStrictEqual(
              received.map((m) => [m.version, m.status]),
              lifecycle.slice(first - 1).map((status, k) => [first + k, status])
            )
          }).pipe(Effect.scoped),
        { concurrency: "unbounded" }
      )
    })
  )

  it.effect("rapid changes reach every watcher, all of them, in order, once", () =>
    Effect.gen(function* () {
      const orders = yield* Effect.forEach([1, 2, 3, 4], () => customerWithOrder)
      yield* Effect.forEach(
        orders,
        ({ token, orderId }) =>
          Effect.gen(function* () {
            const sse = yield* openSse(`/api/orders/${orderId}/live`, token)
            const ws = yield* openWs(`/api/ws/orders/${orderId}`, [`bearer.${token}`])
            assert.strictEqual((yield* nextEvent(sse)).status, "PENDING")
            assert.strictEqual((yield* nextMessage(ws)).status, "PENDING")
            yield* rushToDelivered(orderId)
            const expected = [2, 3, 4, 5].map((version, i) => [version, lifecycle[i + 1]])
            assert.deepStrictEqual(
              eventsOf(yield* sse.rest).map((e) => [e.version, e.status]),
              expected
            )
            assert.deepStrictEqual(
              statusMessages(yield* ws.rest).map((m) => [m.version, m.status]),
              expected
            )
          }).pipe(Effect.scoped),
        { concurrency: "unbounded" }
      )
    })
  )
})
