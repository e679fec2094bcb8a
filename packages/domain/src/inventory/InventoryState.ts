/**
 * One SKU's stock. `reservations` holds the open reservation of each order;
 * `settled` remembers how each closed one ended, so that a late or repeated
 * `Reserve` for an order that was already released or shipped cannot take
 * stock again. `received` (initial stock plus restocks) makes conservation
 * checkable: received = onHand + shipped.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"

export const NotDefined = Schema.TaggedStruct("NotDefined", {})

export const ReservationOutcome = Schema.Literals(["released", "shipped"])
export type ReservationOutcome = typeof ReservationOutcome.Type

export const Product = Schema.TaggedStruct("Product", {
  sku: Schema.String,
  name: Schema.String,
  price: Money,
  currency: Currency,
  onHand: Schema.Int,
  reserved: Schema.Int,
  shipped: Schema.Int,
  received: Schema.Int,
  reservations: Schema.Record(Schema.String, Schema.Int),
  settled: Schema.Record(Schema.String, ReservationOutcome),
  updatedAt: Schema.DateTimeUtcFromString
})
export type Product = typeof Product.Type

export const InventoryState = Schema.Union([NotDefined, Product]).pipe(Schema.toTaggedUnion("_tag"))
export type InventoryState = typeof InventoryState.Type

export const initialState: InventoryState = { _tag: "NotDefined" }

/** What can still be reserved: on_hand − reserved. */
export const available = (product: Product): number => product.onHand - product.reserved
