/**
 * The catalog (public: list and read products with their availability) and
 * the admin's inventory routes (restock, stock view). Every admin route
 * answers 401 without a valid token and 403 to a caller who is not an admin,
 * before its input is even read.
 */
import { Catalog } from "@agora/app"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Authentication } from "./Authentication.ts"
import { Page, PageQuery } from "./Pagination.ts"
import { Forbidden, NotFound, Unavailable, Unprocessable } from "./Problems.ts"
import { RequireAdmin } from "./RequireAdmin.ts"

export const Product = Schema.Struct({
  sku: Schema.String,
  name: Schema.String,
  price: Schema.String,
  currency: Schema.String,
  available: Schema.Number
})

export const Stock = Schema.Struct({
  sku: Schema.String,
  on_hand: Schema.Number,
  reserved: Schema.Number,
  available: Schema.Number
})

export const Inventory = Schema.Struct({ ...Stock.fields, shipped: Schema.Number })

export const Restock = Schema.Struct({
  quantity: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: Catalog.maxRestockQuantity })))
})

const SkuParams = { sku: Schema.String }

export class CatalogGroup extends HttpApiGroup.make("catalog")
  .add(
    HttpApiEndpoint.get("list", "/", { query: PageQuery, success: Page(Product), error: Unavailable }),
    HttpApiEndpoint.get("product", "/:sku", { params: SkuParams, success: Product, error: [NotFound, Unavailable] })
  )
  .prefix("/api/products") {}

export class InventoryAdminGroup extends HttpApiGroup.make("inventoryAdmin")
  .add(
    HttpApiEndpoint.post("restock", "/:sku/restock", {
      params: SkuParams,
      payload: Restock,
      success: Stock,
      error: [Forbidden, NotFound, Unprocessable, Unavailable]
    }),
    HttpApiEndpoint.get("inventory", "/:sku", {
      params: SkuParams,
      success: Inventory,
      error: [Forbidden, NotFound, Unavailable]
    })
  )
  // Added first so that it runs inside Authentication, which provides the caller it checks.
  .middleware(RequireAdmin)
  .middleware(Authentication)
  .prefix("/api/admin/inventory") {}
