/**
 * Live order status for the order's owner and admins (SPEC §3): the SSE route
 * of the contract (`LiveStatusGroup`) and the WebSocket route
 * `GET /api/ws/orders/{id}`, both fed by `OrderStatusFeed`. Each sends the
 * current status, then each change, as `{order_id, status, status_reason,
 * version}`, and closes after DELIVERED or CANCELLED (the SSE stream ends, the
 * socket closes with 1000).
 *
 * Everything that can be refused is refused before the stream starts or the
 * connection is upgraded, as a problem: no or a bad token 401, an order that
 * is unknown, malformed or someone else's 404.
 *
 * Keep-alives every `LIVE_STATUS_KEEPALIVE` (default 15 s): an SSE comment
 * line `: keep-alive`; over WebSocket the text message `{"type":"keepalive"}`
 * (the server's `Socket` has no ping frames to offer). A client too slow to
 * take its changes is cut off, never sent a gap: the SSE stream ends (an
 * `EventSource` reconnects and gets the current status), the socket closes
 * with 1013.
 *
 * A WebSocket session runs outside its upgrade request once the handshake is
 * done, so the edge's request metrics time the handshake (status 101), not
 * the life of the connection; sessions end with the router's layer.
 */
import { OrderStatusFeed, Orders } from "@agora/app"
import { TokenService } from "@agora/edge"
import { Config, Context, Deferred, Duration, Effect, Exit, Layer, Option, Redacted, Scope, Stream } from "effect"
import { Headers, HttpRouter, HttpServerRequest, HttpServerResponse, UrlParams } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Socket } from "effect/socket"
import { Api } from "./Api.ts"
import { unavailable } from "./AuthHandlers.ts"
import { CurrentUser, isAdmin } from "./CurrentUser.ts"
import * as Problem from "./http/Problem.ts"
import type { RouteSpec } from "./http/RouteTable.ts"
import { accessTokenParam, LiveAuthentication } from "./LiveStatusGroup.ts"
import { NotFound, Unauthenticated } from "./Problems.ts"

/** The WebSocket route's path. */
export const webSocketPath = "/api/ws/orders/:id"

/** The routes served outside the contract, for the edge's route table. */
export const routeSpecs: ReadonlyArray<RouteSpec> = [{ method: "GET", path: webSocketPath }]

/** The subprotocol prefix that carries the token: `Sec-WebSocket-Protocol: bearer.<token>`. */
export const bearerSubprotocol = "bearer."

/** What a WebSocket keep-alive says. */
export const keepAliveMessage = JSON.stringify({ type: "keepalive" })

/** The interval between keep-alives (`LIVE_STATUS_KEEPALIVE`, default 15 s). */
export const keepAliveConfig = Config.Duration("LIVE_STATUS_KEEPALIVE").pipe(Config.withDefault(Duration.seconds(15)))

/**
 * Tokens in URLs and in `Sec-WebSocket-Protocol` are redacted wherever Effect
 * shows a request (span URLs, inspected requests) like `Authorization` is.
 * Provide it where the server is served.
 */
export const redaction = Layer.mergeAll(
  Layer.succeed(UrlParams.CurrentRedactedNames, [...UrlParams.CurrentRedactedNames.defaultValue(), accessTokenParam]),
  Layer.succeed(Headers.CurrentRedactedNames, [
    ...Headers.CurrentRedactedNames.defaultValue(),
    "sec-websocket-protocol"
  ])
)

/** How long a socket closed by us waits for the client's close frame. */
const closeGrace = Duration.seconds(5)

const invalidToken = "The bearer token is missing, expired or invalid"

/** A change as the API shows it. */
export const statusBody = (change: OrderStatusFeed.StatusChange) => ({
  order_id: change.orderId,
  status: change.status,
  status_reason: change.statusReason,
  version: change.version
})

type Changes = Stream.Stream<OrderStatusFeed.StatusChange, OrderStatusFeed.WatchError>

/** Ticks every `interval`, the first after one interval. */
const keepAlives = (interval: Duration.Duration) => Stream.tick(interval).pipe(Stream.drop(1))

/** The changes rendered, and what ends them early handled: a lagging client is cut off, a failure logged. */
const untilCutOff = <A>(
  changes: Changes,
  render: (change: OrderStatusFeed.StatusChange) => A,
  onCutOff: (error: OrderStatusFeed.WatchError) => Stream.Stream<A>
) => {
  const failed = (error: OrderStatusFeed.WatchError) =>
    Stream.unwrap(Effect.as(Effect.logError("Live order status: cannot follow the order", error), onCutOff(error)))
  return changes.pipe(
    Stream.map(render),
    Stream.catchTags({
      WatcherLagging: (error) =>
        Stream.unwrap(Effect.as(Effect.logInfo(`Live order status: ${error.message}; cut off`), onCutOff(error))),
      FeedUnavailable: failed,
      OrderNotFound: failed
    })
  )
}

const sseEvent = (change: OrderStatusFeed.StatusChange) =>
  `id: ${change.version}\ndata: ${JSON.stringify(statusBody(change))}\n\n`

/**
 * Completes when this process begins to stop. Live responses then end at
 * once (a WebSocket with 1001 "going away"), so the server closes without
 * waiting for them and their clients reconnect to another node. By default
 * it never completes; the composition root provides `stopOnSignals`.
 */
export const Stopping: Context.Reference<Effect.Effect<void>> = Context.Reference(
  "@agora/api/LiveOrderStatus/Stopping",
  {
    defaultValue: (): Effect.Effect<void> => Effect.never
  }
)

/** `Stopping` completes on SIGTERM or SIGINT (the signals the runtime stops on). */
export const stopOnSignals: Layer.Layer<never> = Layer.effectContext(
  Effect.gen(function* () {
    const stopping = yield* Deferred.make<void>()
    const onSignal = () => Deferred.doneUnsafe(stopping, Exit.void)
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.once("SIGTERM", onSignal)
        process.once("SIGINT", onSignal)
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGTERM", onSignal)
          process.off("SIGINT", onSignal)
        })
    )
    return Context.make(Stopping, Deferred.await(stopping))
  })
)

/** The `text/event-stream` response: the changes, with comment lines in the silences, until the end or `stopping`. */
export const eventStream = (
  changes: Changes,
  keepAlive: Duration.Duration,
  stopping: Effect.Effect<void> = Effect.never
) =>
  HttpServerResponse.stream(
    Stream.merge(
      untilCutOff(changes, sseEvent, () => Stream.empty),
      Stream.as(keepAlives(keepAlive), ": keep-alive\n\n"),
      { haltStrategy: "left" }
    ).pipe(Stream.interruptWhen(stopping), Stream.encodeText),
    {
      contentType: "text/event-stream",
      // No caching, and no buffering by a proxy (nginx reads `X-Accel-Buffering`).
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
    }
  )

const viewerOf = (user: CurrentUser["Service"]): Orders.Viewer => ({ userId: user.userId, admin: isAdmin(user) })

const verify = (tokens: TokenService["Service"], token: string) =>
  Effect.map(tokens.verify(token), (claims): CurrentUser["Service"] => ({
    userId: claims.userId,
    email: claims.email,
    roles: claims.roles
  }))

/** `LiveAuthentication`: the same check as `Authentication`, for a token from the header or the query. */
export const authentication = Layer.effect(
  LiveAuthentication,
  Effect.gen(function* () {
    const tokens = yield* TokenService
    const authenticate = <A, E, R>(
      handler: Effect.Effect<A, E, R>,
      { credential }: { readonly credential: Redacted.Redacted<string> }
    ) =>
      Effect.flatMap(
        verify(tokens, Redacted.value(credential)).pipe(
          Effect.mapError(() => new Unauthenticated({ detail: invalidToken, code: "invalid_token" }))
        ),
        (user) => Effect.provideService(handler, CurrentUser, user)
      )
    return LiveAuthentication.of({ bearer: authenticate, accessToken: authenticate })
  })
)

/** The SSE route's handler. */
export const LiveStatusHandlers = HttpApiBuilder.group(Api, "liveStatus", (handlers) =>
  Effect.gen(function* () {
    const orders = yield* Orders.Orders
    const feed = yield* OrderStatusFeed.OrderStatusFeed
    const keepAlive = yield* keepAliveConfig
    const stopping = yield* Stopping
    return handlers.handleRaw("orderLive", ({ params }) =>
      CurrentUser.use((user) =>
        orders.get(params.id, viewerOf(user)).pipe(
          Effect.map(() => eventStream(feed.watch(params.id), keepAlive, stopping)),
          Effect.catchTags({
            OrderNotFound: () =>
              Effect.fail(new NotFound({ detail: "No order with this id is visible to you", code: "order_not_found" })),
            UnexpectedOrderError: unavailable
          })
        )
      )
    )
  })
)

const bearerHeader = /^Bearer[ \t]+([^\s]+)[ \t]*$/i

/** The token of a WebSocket request: `Authorization`, the `bearer.` subprotocol, or `?access_token=`. */
const webSocketToken = (
  request: HttpServerRequest.HttpServerRequest,
  query: HttpServerRequest.ParsedSearchParams["Service"]
): string | undefined => {
  const fromHeader = bearerHeader.exec(request.headers.authorization ?? "")?.[1]
  if (fromHeader !== undefined) return fromHeader
  const fromProtocol = (request.headers["sec-websocket-protocol"] ?? "")
    .split(",")
    .map((protocol) => protocol.trim())
    .find((protocol) => protocol.startsWith(bearerSubprotocol))
    ?.slice(bearerSubprotocol.length)
  if (fromProtocol !== undefined && fromProtocol !== "") return fromProtocol
  const fromQuery = query[accessTokenParam]
  const token = Array.isArray(fromQuery) ? fromQuery[0] : fromQuery
  return token === "" ? undefined : token
}

const isWebSocketUpgrade = (request: HttpServerRequest.HttpServerRequest) =>
  request.headers.upgrade?.toLowerCase() === "websocket"

/**
 * One WebSocket session: the changes and keep-alives out, anything the
 * client sends ignored. Ends when the client goes; after the last change it
 * closes the socket itself and gives the client a moment to answer the close.
 */
const session = (
  reader: Socket.Reader,
  writer: Socket.Writer,
  changes: Changes,
  keepAlive: Duration.Duration,
  stopping: Effect.Effect<void>
) => {
  // The only reader: a pull fails once the connection is closed, whoever closed it.
  const clientGone = Effect.ignore(Effect.forever(reader.pull))
  const close = (code: number, reason: string) => writer.write(new Socket.CloseEvent(code, reason))
  const talk = Stream.merge(
    untilCutOff(
      changes,
      (change) => JSON.stringify(statusBody(change)),
      (error) =>
        Stream.drain(
          Stream.fromEffect(
            Effect.ignore(
              error._tag === "WatcherLagging"
                ? close(1013, "too far behind; reconnect")
                : close(1011, "cannot follow the order now; reconnect")
            )
          )
        )
    ),
    Stream.as(keepAlives(keepAlive), keepAliveMessage),
    { haltStrategy: "left" }
  ).pipe(
    Stream.runForEach((text) => writer.write(text)),
    // After a cut-off the close frame is out already, and this one is ignored.
    Effect.andThen(close(1000, "final status sent")),
    Effect.andThen(Effect.sleep(closeGrace))
  )
  const stop = Effect.andThen(stopping, Effect.ignore(close(1001, "server stopping; reconnect")))
  return Effect.raceFirst(Effect.raceFirst(Effect.ignore(talk), clientGone), stop)
}

/** The WebSocket route; sessions live in the layer's scope. */
export const webSocketRoute = HttpRouter.use((router) =>
  Effect.gen(function* () {
    const tokens = yield* TokenService
    const orders = yield* Orders.Orders
    const feed = yield* OrderStatusFeed.OrderStatusFeed
    const keepAlive = yield* keepAliveConfig
    const stopping = yield* Stopping
    const sessions = yield* Effect.scope

    /** Completes the handshake, then hands the connection to a session of its own. */
    const upgrade = (request: HttpServerRequest.HttpServerRequest, orderId: string) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const scope = yield* Scope.make()
          const opened = yield* Effect.exit(
            restore(
              Scope.provide(
                Effect.gen(function* () {
                  const socket = yield* request.upgrade
                  // Acquiring the reader is the handshake: the 101 (with the chosen subprotocol) goes out here.
                  return { reader: yield* socket.reader, writer: yield* socket.writer }
                }),
                scope
              )
            )
          )
          if (Exit.isFailure(opened)) {
            yield* Scope.close(scope, opened)
            yield* Effect.logDebug("Live order status: the WebSocket handshake failed", opened.cause)
            return Problem.problem(400, "The WebSocket handshake failed", "handshake_failed")
          }
          const { reader, writer } = opened.value
          yield* session(reader, writer, feed.watch(orderId), keepAlive, stopping).pipe(
            Effect.onExit((exit) => Scope.close(scope, exit)),
            Effect.forkIn(sessions)
          )
          return HttpServerResponse.empty({ status: 101 })
        })
      )

    yield* router.add(
      "GET",
      webSocketPath,
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const query = yield* HttpServerRequest.ParsedSearchParams
        const orderId = (yield* HttpRouter.params).id ?? ""
        const token = webSocketToken(request, query)
        const user = token === undefined ? Option.none() : yield* Effect.option(verify(tokens, token))
        if (Option.isNone(user)) return Problem.problem(401, invalidToken, "invalid_token")
        const visible = yield* Effect.result(orders.get(orderId, viewerOf(user.value)))
        if (visible._tag === "Failure") {
          if (visible.failure._tag === "OrderNotFound") {
            return Problem.problem(404, "No order with this id is visible to you", "order_not_found")
          }
          yield* Effect.logError("A dependency failed", visible.failure.cause)
          return Problem.problem(503, "The service cannot complete this request now", "unavailable")
        }
        if (!isWebSocketUpgrade(request)) {
          return Problem.problem(426, "This route only answers WebSocket upgrades", "upgrade_required", {
            headers: { upgrade: "websocket" }
          })
        }
        return yield* upgrade(request, orderId)
      })
    )
  })
)
