/**
 * Live order status over Server-Sent Events: the order's current status, then
 * each change, until a terminal one. Browsers' `EventSource` cannot send
 * headers, so this route (and the WebSocket one, `LiveOrderStatus.ts`) also
 * takes the token as `?access_token=`; no other route does.
 */
import { Order } from "@agora/domain"
import { Schema } from "effect"
import {
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "effect/http-api"
import type { CurrentUser } from "./CurrentUser.ts"
import { NotFound, Unauthenticated, Unavailable } from "./Problems.ts"

/** One status message, on both the SSE and the WebSocket route. */
export const LiveStatusBody = Schema.Struct({
  order_id: Schema.String,
  status: Order.OrderStatus,
  status_reason: Schema.NullOr(Schema.String),
  version: Schema.Number
})

/** The query parameter that may carry the token on the live routes. */
export const accessTokenParam = "access_token"

/** Bearer-token authentication that also reads the token from `?access_token=`. */
export class LiveAuthentication extends HttpApiMiddleware.Service<LiveAuthentication, { provides: CurrentUser }>()(
  "@agora/api/LiveAuthentication",
  {
    security: {
      bearer: HttpApiSecurity.bearer,
      accessToken: HttpApiSecurity.apiKey({ key: accessTokenParam, in: "query" })
    },
    error: Unauthenticated
  }
) {}

export class LiveStatusGroup extends HttpApiGroup.make("liveStatus")
  .add(
    HttpApiEndpoint.get("orderLive", "/api/orders/:id/live", {
      params: { id: Schema.String },
      success: HttpApiSchema.StreamSse({ data: LiveStatusBody }),
      error: [NotFound, Unavailable]
    }).annotateMerge(
      OpenApi.annotations({
        summary: "Follow an order's status live (Server-Sent Events)",
        description:
          "Sends the order's current status, then each change, as `data:` events whose `id` is the order version; " +
          "the stream ends after DELIVERED or CANCELLED (an `EventSource` should then close, or it reconnects). " +
          "A comment line (`: keep-alive`) is sent every `LIVE_STATUS_KEEPALIVE` (default 15 s). The token goes " +
          "in the `Authorization` header or, for `EventSource`, in `?access_token=`. The same messages are " +
          "served over WebSocket at `/api/ws/orders/{id}` (token in `?access_token=` or the subprotocol " +
          "`bearer.<token>`)."
      })
    )
  )
  .middleware(LiveAuthentication) {}
