/**
 * What happened to one SKU's stock: the persisted contract of
 * `inventory-<sku>` streams. Every change of `on_hand`, `reserved` or
 * `shipped` is one of these, so stock is conserved by construction:
 * initial + restocked = on_hand + shipped.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"

/** A positive whole number of units. */
export const Quantity = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))

export class ProductDefined extends Schema.TaggedClass<ProductDefined>()("ProductDefined", {
  sku: Schema.String,
  name: Schema.String,
  price: Money,
  currency: Currency,
  initialStock: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))),
  at: Schema.DateTimeUtcFromString
}) {}

export class StockRestocked extends Schema.TaggedClass<StockRestocked>()("StockRestocked", {
  sku: Schema.String,
  quantity: Quantity,
  at: Schema.DateTimeUtcFromString
}) {}

export class StockReserved extends Schema.TaggedClass<StockReserved>()("StockReserved", {
  sku: Schema.String,
  orderId: Schema.String,
  quantity: Quantity,
  at: Schema.DateTimeUtcFromString
}) {}

export class StockReleased extends Schema.TaggedClass<StockReleased>()("StockReleased", {
  sku: Schema.String,
  orderId: Schema.String,
  quantity: Quantity,
  at: Schema.DateTimeUtcFromString
}) {}

/** A reservation left the warehouse: on_hand and reserved fall, shipped rises. */
export class StockShipped extends Schema.TaggedClass<StockShipped>()("StockShipped", {
  sku: Schema.String,
  orderId: Schema.String,
  quantity: Quantity,
  at: Schema.DateTimeUtcFromString
}) {}

export const InventoryEvent = Schema.Union([
  ProductDefined,
  StockRestocked,
  StockReserved,
  StockReleased,
  StockShipped
]).pipe(Schema.toTaggedUnion("_tag"))
export type InventoryEvent = typeof InventoryEvent.Type
