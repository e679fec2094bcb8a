/** Catalog and inventory handlers: translate the catalog's outcomes into the contract's answers. */
import { Catalog } from "@agora/app"
import { Money } from "@agora/domain"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "./Api.ts"
import { unavailable } from "./AuthHandlers.ts"
import { defaultLimit } from "./Pagination.ts"
import { NotFound, Unprocessable } from "./Problems.ts"

const product = (view: Catalog.ProductView) => ({
  sku: view.sku,
  name: view.name,
  price: Money.toDecimalString(view.price),
  currency: view.currency,
  available: view.available
})

const stock = (view: Catalog.StockView) => ({
  sku: view.sku,
  on_hand: view.onHand,
  reserved: view.reserved,
  available: view.available
})

const noProduct = (e: { readonly sku: string }) =>
  Effect.fail(new NotFound({ detail: `There is no product ${e.sku}`, code: "unknown_sku" }))

export const CatalogHandlers = HttpApiBuilder.group(Api, "catalog", (handlers) =>
  Effect.gen(function* () {
    const catalog = yield* Catalog.Catalog
    return handlers
      .handle("list", ({ query }) =>
        catalog.products({ limit: query.limit ?? defaultLimit, cursor: query.cursor }).pipe(
          Effect.map((page) => ({ data: page.products.map(product), next_cursor: page.nextCursor })),
          Effect.catchTag("UnexpectedCatalogError", unavailable)
        )
      )
      .handle("product", ({ params }) =>
        catalog
          .product(params.sku)
          .pipe(
            Effect.map(product),
            Effect.catchTags({ ProductNotFound: noProduct, UnexpectedCatalogError: unavailable })
          )
      )
  })
)

export const InventoryAdminHandlers = HttpApiBuilder.group(Api, "inventoryAdmin", (handlers) =>
  Effect.gen(function* () {
    const catalog = yield* Catalog.Catalog
    return handlers
      .handle("restock", ({ params, payload }) =>
        catalog.restock(params.sku, payload.quantity).pipe(
          Effect.map(stock),
          Effect.catchTags({
            ProductNotFound: noProduct,
            // The schema admits 1..1,000,000; this is the stock total outgrowing a safe integer.
            InvalidQuantity: (e) =>
              Effect.fail(
                new Unprocessable({
                  detail: `${e.quantity} more units cannot be added to ${e.sku}`,
                  code: "invalid_quantity",
                  errors: [{ path: ["payload", "quantity"], message: "is too large for this product's stock" }]
                })
              ),
            UnexpectedCatalogError: unavailable
          })
        )
      )
      .handle("inventory", ({ params }) =>
        catalog.stock(params.sku).pipe(
          Effect.map((view) => ({ ...stock(view), shipped: view.shipped })),
          Effect.catchTags({ ProductNotFound: noProduct, UnexpectedCatalogError: unavailable })
        )
      )
  })
)
