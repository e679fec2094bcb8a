/** Order handlers: translate requests into `Orders` calls and its outcomes into the contract's answers. */
import { Orders } from "@agora/app"
import { Effect } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "./Api.ts"
import { unavailable } from "./AuthHandlers.ts"
import { CurrentUser, isAdmin } from "./CurrentUser.ts"
import { eventData, makeBodyCache, orderBody } from "./OrderBodies.ts"
import { defaultLimit } from "./Pagination.ts"
import { Conflict, NotFound, Unprocessable } from "./Problems.ts"

const viewer = (caller: CurrentUser["Service"]): Orders.Viewer => ({ userId: caller.userId, admin: isAdmin(caller) })

const noOrder = () =>
  Effect.fail(new NotFound({ detail: "No order with this id is visible to you", code: "order_not_found" }))

const page = (query: { readonly limit?: number | undefined; readonly cursor?: string | undefined }) => ({
  limit: query.limit ?? defaultLimit,
  cursor: query.cursor
})

const orderPage = (result: Orders.OrderPage) => ({ data: result.orders.map(orderBody), next_cursor: result.nextCursor })

export const OrdersHandlers = HttpApiBuilder.group(Api, "orders", (handlers) =>
  Effect.gen(function* () {
    const orders = yield* Orders.Orders
    const bodyCache = makeBodyCache(10_000)
    return (
      handlers
        .handle("place", ({ payload }) =>
          CurrentUser.use((caller) =>
            orders
              .place(caller.userId, {
                items: payload.items,
                paymentMethod: payload.payment_method,
                cardToken: payload.card_token,
                totalPrice: payload.total_price
              })
              .pipe(
                Effect.map(({ order }) => orderBody(order)),
                Effect.catchTags({
                  InvalidOrderRequest: (e) =>
                    Effect.fail(
                      new Unprocessable({
                        detail: `The order cannot be placed: ${e.message}`,
                        code: "invalid_order",
                        errors: e.issues.map((issue) => ({ path: ["payload", ...issue.path], message: issue.message }))
                      })
                    ),
                  UnexpectedOrderError: unavailable
                })
              )
          )
        )
        .handle("mine", ({ query }) =>
          CurrentUser.use((caller) =>
            orders.list(caller.userId, viewer(caller), page(query)).pipe(
              Effect.map(orderPage),
              Effect.catchTags({
                // The caller's own list is always visible: a bug if seen.
                OrdersNotVisible: (e) => unavailable({ cause: e }),
                UnexpectedOrderError: unavailable
              })
            )
          )
        )
        // The hottest read: answered with JSON serialised once per order version (the body is a pure function of
        // the order's state), instead of encoding it through the schema on every request. The schema still
        // documents it, and the tests read it against the schema.
        .handle("order", ({ params }) =>
          CurrentUser.use((caller) =>
            orders.get(params.id, viewer(caller)).pipe(
              Effect.map((order) =>
                HttpServerResponse.text(bodyCache.json(order), { contentType: "application/json" })
              ),
              Effect.catchTags({ OrderNotFound: noOrder, UnexpectedOrderError: unavailable })
            )
          )
        )
        .handle("cancel", ({ params }) =>
          CurrentUser.use((caller) =>
            orders.cancel(params.id, viewer(caller)).pipe(
              Effect.map(orderBody),
              Effect.catchTags({
                OrderNotFound: noOrder,
                OrderNotCancellable: (e) =>
                  Effect.fail(
                    new Conflict({
                      detail: `The order is ${e.status} and can no longer be cancelled`,
                      code: "order_not_cancellable"
                    })
                  ),
                UnexpectedOrderError: unavailable
              })
            )
          )
        )
        .handle("events", ({ params, query }) =>
          CurrentUser.use((caller) =>
            orders.history(params.id, viewer(caller), page(query)).pipe(
              Effect.map((result) => ({
                data: result.entries.map((entry) => ({
                  position: entry.position,
                  version: entry.version,
                  type: entry.event._tag,
                  data: eventData(entry.event),
                  recorded_at: entry.recordedAt.toISOString()
                })),
                next_cursor: result.nextCursor
              })),
              Effect.catchTags({ OrderNotFound: noOrder, UnexpectedOrderError: unavailable })
            )
          )
        )
        .handle("ofUser", ({ params, query }) =>
          CurrentUser.use((caller) =>
            orders.list(params.user_id, viewer(caller), page(query)).pipe(
              Effect.map(orderPage),
              Effect.catchTags({
                OrdersNotVisible: () =>
                  Effect.fail(new NotFound({ detail: "No such user is visible to you", code: "user_not_found" })),
                UnexpectedOrderError: unavailable
              })
            )
          )
        )
    )
  })
)

export const OrdersAdminHandlers = HttpApiBuilder.group(Api, "ordersAdmin", (handlers) =>
  Effect.gen(function* () {
    const orders = yield* Orders.Orders
    return handlers.handle("setStatus", ({ params, payload }) =>
      orders.setStatus(params.id, payload.status).pipe(
        Effect.map(orderBody),
        Effect.catchTags({
          OrderNotFound: noOrder,
          IllegalTransition: (e) =>
            Effect.fail(
              new Conflict({
                detail: `An order cannot go from ${e.from} to ${e.to}`,
                code: "illegal_transition"
              })
            ),
          UnexpectedOrderError: unavailable
        })
      )
    )
  })
)
