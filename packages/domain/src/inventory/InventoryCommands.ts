/**
 * What can be asked of one SKU's stock. Every command names its SKU (the
 * actor's id). Quantities are plain numbers here: the decider refuses the
 * ones that are not positive integers with a typed error.
 */
import { Schema } from "effect"
import { Currency, Money } from "../Money.ts"

export class DefineProduct extends Schema.TaggedClass<DefineProduct>()("DefineProduct", {
  sku: Schema.String,
  name: Schema.String,
  price: Money,
  currency: Currency,
  initialStock: Schema.optionalKey(Schema.Number),
  at: Schema.DateTimeUtcFromString
}) {}

export class Restock extends Schema.TaggedClass<Restock>()("Restock", {
  sku: Schema.String,
  quantity: Schema.Number,
  at: Schema.DateTimeUtcFromString
}) {}

/** Reserve one order line, all or nothing. */
export class Reserve extends Schema.TaggedClass<Reserve>()("Reserve", {
  sku: Schema.String,
  orderId: Schema.String,
  quantity: Schema.Number,
  at: Schema.DateTimeUtcFromString
}) {}

export class Release extends Schema.TaggedClass<Release>()("Release", {
  sku: Schema.String,
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export class CommitShipment extends Schema.TaggedClass<CommitShipment>()("CommitShipment", {
  sku: Schema.String,
  orderId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export const InventoryCommand = Schema.Union([DefineProduct, Restock, Reserve, Release, CommitShipment]).pipe(
  Schema.toTaggedUnion("_tag")
)
export type InventoryCommand = typeof InventoryCommand.Type
