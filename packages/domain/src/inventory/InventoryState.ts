/**
 * One SKU's stock. `reservations` holds the open reservation of each order;
 * `settled` remembers how the latest closed ones ended (at most
 * `settledWindow`, oldest out), so that a late or repeated `Reserve` for an
 * order that was just released or shipped cannot take stock again.
 * `received` (initial stock plus restocks) makes conservation checkable:
 * received = onHand + shipped.
 *
 * Why a window and not every order ever: a SKU lives as long as the shop, and
 * a record of all its orders would grow without bound in memory and in every
 * snapshot. (Both maps are persistent (`internal/Keyed.ts`): an event updates
 * them without copying every entry.) What the window forgets, the
 * actor runtime still covers: the saga sends each reservation under a
 * deterministic command id, and a repeat of it maps to the same event ids, so
 * the store refuses it as a duplicate however old it is.
 */
import { Schema } from "effect"
import { EntriesOf, entriesToRecord, WindowOf, windowToRecord } from "../internal/Keyed.ts"
import { Currency, Money } from "../Money.ts"

export const NotDefined = Schema.TaggedStruct("NotDefined", {})

export const ReservationOutcome = Schema.Literals(["released", "shipped"])
export type ReservationOutcome = typeof ReservationOutcome.Type

/** How many closed reservations a SKU remembers. */
export const settledWindow = 1_000

export const Product = Schema.TaggedStruct("Product", {
  sku: Schema.String,
  name: Schema.String,
  price: Money,
  currency: Currency,
  onHand: Schema.Int,
  reserved: Schema.Int,
  shipped: Schema.Int,
  received: Schema.Int,
  reservations: EntriesOf(Schema.Int),
  settled: WindowOf(ReservationOutcome),
  updatedAt: Schema.DateTimeUtcFromString
})
export type Product = typeof Product.Type

export const InventoryState = Schema.Union([NotDefined, Product]).pipe(Schema.toTaggedUnion("_tag"))
export type InventoryState = typeof InventoryState.Type

export const initialState: InventoryState = { _tag: "NotDefined" }

/** The open reservations, order id → quantity (a copy, for readers and checks). */
export const reservationsOf = (product: Product): Record<string, number> => entriesToRecord(product.reservations)

/** The closed reservations remembered, oldest first (a copy, for readers and checks). */
export const settledOf = (product: Product): Record<string, ReservationOutcome> => windowToRecord(product.settled)

/** What can still be reserved: on_hand − reserved. */
export const available = (product: Product): number => product.onHand - product.reserved
