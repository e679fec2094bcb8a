/**
 * Orders: place one (priced by the server; the client names SKUs and
 * quantities only), read it, list the caller's or a user's orders (newest
 * first), cancel, read its event history; and the admin's status override.
 * An order that is not the caller's answers 404, exactly like an unknown id.
 */
import { Money, Order } from "@agora/domain"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { Authentication } from "./Authentication.ts"
import { Page, PageQuery } from "./Pagination.ts"
import { Conflict, Forbidden, NotFound, Unavailable, Unprocessable } from "./Problems.ts"
import { RequireAdmin } from "./RequireAdmin.ts"

export const OrderItemRequest = Schema.Struct({
  sku: Schema.String.pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(64))),
  quantity: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: Order.maxQuantity })))
})

export const PlaceOrderRequest = Schema.Struct({
  items: Schema.Array(OrderItemRequest).pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(Order.maxLines))),
  payment_method: Schema.Literals(["account", "card"]),
  card_token: Schema.optional(Schema.String.pipe(Schema.check(Schema.isMaxLength(255)))),
  total_price: Schema.optional(Money.MoneyFromDecimal)
})

export const OrderLineBody = Schema.Struct({
  sku: Schema.String,
  name: Schema.String,
  quantity: Schema.Number,
  unit_price: Schema.String,
  line_total: Schema.String
})

export const OrderBody = Schema.Struct({
  id: Schema.String,
  user_id: Schema.String,
  status: Order.OrderStatus,
  status_reason: Schema.NullOr(Schema.String),
  items: Schema.Array(OrderLineBody),
  total: Schema.String,
  currency: Schema.String,
  payment_method: Schema.Literals(["account", "card"]),
  payment_id: Schema.NullOr(Schema.String),
  shipment_id: Schema.NullOr(Schema.String),
  tracking_number: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  version: Schema.Number
})

export const OrderEventBody = Schema.Struct({
  position: Schema.Number,
  version: Schema.Number,
  type: Schema.String,
  data: Schema.Record(Schema.String, Schema.Unknown),
  recorded_at: Schema.String
})

export const StatusChange = Schema.Struct({ status: Order.OrderStatus })

const IdParams = { id: Schema.String }

export class OrdersGroup extends HttpApiGroup.make("orders")
  .add(
    HttpApiEndpoint.post("place", "/api/orders", {
      payload: PlaceOrderRequest,
      success: OrderBody.pipe(HttpApiSchema.status(202)),
      error: [Unprocessable, Unavailable]
    }),
    HttpApiEndpoint.get("mine", "/api/orders", {
      query: PageQuery,
      success: Page(OrderBody),
      error: Unavailable
    }),
    HttpApiEndpoint.get("order", "/api/orders/:id", {
      params: IdParams,
      success: OrderBody,
      error: [NotFound, Unavailable]
    }),
    HttpApiEndpoint.post("cancel", "/api/orders/:id/cancel", {
      params: IdParams,
      success: OrderBody.pipe(HttpApiSchema.status(202)),
      error: [NotFound, Conflict, Unavailable]
    }),
    HttpApiEndpoint.get("events", "/api/orders/:id/events", {
      params: IdParams,
      query: PageQuery,
      success: Page(OrderEventBody),
      error: [NotFound, Unavailable]
    }),
    HttpApiEndpoint.get("ofUser", "/api/users/:user_id/orders", {
      params: { user_id: Schema.String },
      query: PageQuery,
      success: Page(OrderBody),
      error: [NotFound, Unavailable]
    })
  )
  .middleware(Authentication) {}

export class OrdersAdminGroup extends HttpApiGroup.make("ordersAdmin")
  .add(
    HttpApiEndpoint.patch("setStatus", "/api/orders/:id", {
      params: IdParams,
      payload: StatusChange,
      success: OrderBody,
      error: [Forbidden, NotFound, Conflict, Unprocessable, Unavailable]
    })
  )
  // Added first so that it runs inside Authentication, which provides the caller it checks.
  .middleware(RequireAdmin)
  .middleware(Authentication) {}
