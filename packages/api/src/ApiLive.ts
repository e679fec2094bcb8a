/**
 * The HTTP API as router routes: the contract, its handlers and middleware,
 * the OpenAPI document and the Swagger UI (assets bundled, no CDN). Needs the
 * application services and the token service.
 */
import { Layer } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { AccountsHandlers } from "./AccountsHandlers.ts"
import { Api } from "./Api.ts"
import * as Authentication from "./Authentication.ts"
import { AuthHandlers, ProfileHandlers } from "./AuthHandlers.ts"
import { CatalogHandlers, InventoryAdminHandlers } from "./CatalogHandlers.ts"
import * as Docs from "./Docs.ts"
import * as HttpEdge from "./http/HttpEdge.ts"
import { fromApi, make as makeRouteTable, operationalRoutes, RouteTable } from "./http/RouteTable.ts"
import * as SpanNames from "./http/SpanNames.ts"
import { InfoHandlers } from "./InfoHandlers.ts"
import * as LiveOrderStatus from "./LiveOrderStatus.ts"
import * as Metrics from "./Metrics.ts"
import { OrdersAdminHandlers, OrdersHandlers } from "./OrdersHandlers.ts"
import { PaymentsHandlers, PaymentWebhookHandlers } from "./PaymentsHandlers.ts"
import * as RequestValidation from "./RequestValidation.ts"
import * as RequireAdmin from "./RequireAdmin.ts"
import { ShipmentsAdminHandlers, ShipmentsHandlers } from "./ShipmentsHandlers.ts"
import * as VerifyWebhook from "./VerifyWebhook.ts"

const Handlers = Layer.mergeAll(
  InfoHandlers,
  AuthHandlers,
  ProfileHandlers,
  AccountsHandlers,
  CatalogHandlers,
  InventoryAdminHandlers,
  OrdersHandlers,
  OrdersAdminHandlers,
  LiveOrderStatus.LiveStatusHandlers,
  PaymentsHandlers,
  PaymentWebhookHandlers,
  ShipmentsHandlers,
  ShipmentsAdminHandlers
)

/**
 * The routes — the contract, its documentation pages (`Docs.ts`: Swagger UI,
 * ReDoc) and `/metrics` — behind the HTTP edge (`http/HttpEdge.ts`: request
 * metrics, CORS, problems for every fault, 404/405, rate limits, the body
 * limit, idempotency keys), which also covers every other route served by the
 * same router; and the live order status over WebSocket (`LiveOrderStatus.ts`).
 * Needs a `RateLimiter`, an `IdempotencyStore` and a `FileSystem` (the ReDoc
 * bundle is read at start-up) besides the app services and `OrderStatusFeed`.
 */
export const routes = Layer.mergeAll(
  HttpApiBuilder.layer(Api, { openapiPath: "/api/openapi.json" }).pipe(Layer.provide(Handlers)),
  Docs.layer(Api, { openapiPath: "/api/openapi.json" }),
  Metrics.layer,
  LiveOrderStatus.webSocketRoute,
  HttpEdge.layer
).pipe(Layer.provide(RouteTable.layer(Api, [...operationalRoutes, ...LiveOrderStatus.routeSpecs])))

/**
 * Request spans named after their route (`POST /api/orders`): for the server's
 * context when it exports traces.
 */
export const spanNames = SpanNames.layer(
  makeRouteTable([...fromApi(Api), ...operationalRoutes, ...LiveOrderStatus.routeSpecs])
)

/** The middleware implementations the routes need at serve time. */
export const middleware = Layer.mergeAll(
  Authentication.layer,
  RequireAdmin.layer,
  LiveOrderStatus.authentication,
  RequestValidation.layer,
  VerifyWebhook.layer
)
