/**
 * The HTTP API contract: every route, its schemas and its problems. Handlers
 * live apart (`*Handlers.ts`); the server serves this contract and its
 * OpenAPI document.
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { AccountsGroup } from "./AccountsGroup.ts"
import { AuthGroup, ProfileGroup } from "./AuthGroup.ts"
import { CatalogGroup, InventoryAdminGroup } from "./CatalogGroup.ts"
import { LiveStatusGroup } from "./LiveStatusGroup.ts"
import { OrdersAdminGroup, OrdersGroup } from "./OrdersGroup.ts"
import { PaymentsGroup, PaymentWebhookGroup } from "./PaymentsGroup.ts"
import { RequestValidation } from "./RequestValidation.ts"
import { ShipmentsAdminGroup, ShipmentsGroup } from "./ShipmentsGroup.ts"

export const AppInfo = Schema.Struct({ name: Schema.String, version: Schema.String, docs: Schema.String })

export class InfoGroup extends HttpApiGroup.make("info")
  .add(HttpApiEndpoint.get("info", "/", { success: AppInfo }))
  .prefix("/api") {}

export class Api extends HttpApi.make("agora")
  .add(InfoGroup)
  .add(AuthGroup)
  .add(ProfileGroup)
  .add(AccountsGroup)
  .add(CatalogGroup)
  .add(InventoryAdminGroup)
  .add(OrdersGroup)
  .add(OrdersAdminGroup)
  .add(LiveStatusGroup)
  .add(PaymentsGroup)
  .add(PaymentWebhookGroup)
  .add(ShipmentsGroup)
  .add(ShipmentsAdminGroup)
  .middleware(RequestValidation)
  // Report every offending field of a request, not only the first.
  .annotate(HttpApi.PayloadParseOptions, { errors: "all" })
  .annotate(HttpApi.QueryParseOptions, { errors: "all" })
  .annotateMerge(
    OpenApi.annotations({
      title: "Agora",
      version: "0.1.0",
      description: "Event-sourced commerce backend: auth, catalog, accounts, orders, payments, shipments"
    })
  ) {}
