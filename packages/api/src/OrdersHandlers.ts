/** Order handlers: translate requests into `Orders` calls and its outcomes into the contract's answers. */
import { Orders } from "@agora/app"
import { Money, type Order } from "@agora/domain"
import { DateTime, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "./Api.ts"
import { unavailable } from "./AuthHandlers.ts"
import { CurrentUser, isAdmin } from "./CurrentUser.ts"
import { defaultLimit } from "./Pagination.ts"
import { Conflict, NotFound, Unprocessable } from "./Problems.ts"

const money = Money.toDecimalString

export const orderBody = (order: Orders.OrderView) => ({
  id: order.id,
  user_id: order.userId,
  status: order.status,
  status_reason: order.statusReason,
  items: order.lines.map((line) => ({
    sku: line.sku,
    name: line.name,
    quantity: line.quantity,
    unit_price: money(line.unitPrice),
    line_total: money(Money.multiply(line.unitPrice, line.quantity))
  })),
  total: money(order.total),
  currency: order.currency,
  payment_method: order.paymentMethod,
  payment_id: order.paymentId,
  shipment_id: order.shipmentId,
  tracking_number: order.trackingNumber,
  created_at: DateTime.formatIso(order.createdAt),
  updated_at: DateTime.formatIso(order.updatedAt),
  version: order.version
})

/** An event's data as clients read it: snake_case, money as decimal strings, no card token. */
export const eventData = (event: Order.OrderEvent): Record<string, unknown> => {
  switch (event._tag) {
    case "OrderPlaced":
      return {
        order_id: event.orderId,
        user_id: event.userId,
        items: event.lines.map((line) => ({
          sku: line.sku,
          name: line.name,
          quantity: line.quantity,
          unit_price: money(line.unitPrice)
        })),
        total: money(event.total),
        currency: event.currency,
        payment_method: event.paymentMethod
      }
    case "OrderPaid":
      return { order_id: event.orderId, payment_id: event.paymentId }
    case "OrderShipped":
      return { order_id: event.orderId, shipment_id: event.shipmentId, tracking_number: event.trackingNumber }
    case "OrderCancelled":
      return { order_id: event.orderId, reason: event.reason }
    case "OrderReserved":
    case "OrderDelivered":
      return { order_id: event.orderId }
  }
}

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
    return handlers
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
      .handle("order", ({ params }) =>
        CurrentUser.use((caller) =>
          orders
            .get(params.id, viewer(caller))
            .pipe(
              Effect.map(orderBody),
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
