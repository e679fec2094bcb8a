/**
 * The `catalog` projection: each product with its stock counts
 * (`product:<sku>`: name, price, on hand, reserved, shipped — what the
 * catalog and the admin inventory routes show), and the list of SKUs
 * (`skus`, in bytewise order for paging). Both complete: products are few and
 * every catalog page reads them, so they do not expire. The counts move as
 * the Inventory aggregate's `evolve` moves them; the reservations it keeps to
 * decide commands are not needed to show stock.
 */
import { InventoryItem, Money } from "@agora/domain"
import { applyToDoc, type Projection } from "@agora/readmodels"
import { Schema } from "effect"
import { eventDecoder, idOf, isPoison, schemaCodec } from "./StreamEvents.ts"

export const name = "catalog"

export const productKey = (sku: string): string => `product:${sku}`
export const skusKey = "skus"

export const ProductDoc = Schema.Struct({
  sku: Schema.String,
  name: Schema.String,
  price: Money.Money,
  currency: Schema.String,
  onHand: Schema.Int,
  reserved: Schema.Int,
  shipped: Schema.Int
})
export type ProductDoc = typeof ProductDoc.Type

export const codec = schemaCodec(ProductDoc)
const decodeEvent = eventDecoder(InventoryItem.InventoryItem)

const evolve = (doc: ProductDoc, event: InventoryItem.InventoryEvent): ProductDoc => {
  switch (event._tag) {
    case "ProductDefined":
      return doc
    case "StockRestocked":
      return { ...doc, onHand: doc.onHand + event.quantity }
    case "StockReserved":
      return { ...doc, reserved: doc.reserved + event.quantity }
    case "StockReleased":
      return { ...doc, reserved: doc.reserved - event.quantity }
    case "StockShipped":
      return {
        ...doc,
        onHand: doc.onHand - event.quantity,
        reserved: doc.reserved - event.quantity,
        shipped: doc.shipped + event.quantity
      }
  }
}

/** The document of a product state folded by the aggregate (for readers that fall back to the actor). */
export const docOf = (product: InventoryItem.Product): ProductDoc => ({
  sku: product.sku,
  name: product.name,
  price: product.price,
  currency: product.currency,
  onHand: product.onHand,
  reserved: product.reserved,
  shipped: product.shipped
})

export const projection: Projection = {
  name,
  handles: (event) => event.streamType === InventoryItem.InventoryItem.type,
  docKeys: (event) => [productKey(idOf(event))],
  apply: (recorded, context) => {
    const event = decodeEvent(recorded)
    if (isPoison(event)) return event
    if (event._tag === "ProductDefined") context.indexAdd(skusKey, 0, event.sku)
    applyToDoc(context, productKey(idOf(recorded)), recorded, codec, {
      create: () =>
        event._tag === "ProductDefined"
          ? {
              sku: event.sku,
              name: event.name,
              price: event.price,
              currency: event.currency,
              onHand: event.initialStock,
              reserved: 0,
              shipped: 0
            }
          : undefined,
      evolve: (doc) => evolve(doc, event)
    })
    return undefined
  }
}
