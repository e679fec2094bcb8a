/** Why a stock command was refused. */
import { Schema } from "effect"

export class ProductNotFound extends Schema.TaggedError<ProductNotFound>()("ProductNotFound", {
  sku: Schema.String
}) {
  override get message() {
    return `product ${this.sku} does not exist`
  }
}

/** The SKU exists with another name, price or currency; changing them is not a `DefineProduct`. */
export class ProductAlreadyDefined extends Schema.TaggedError<ProductAlreadyDefined>()("ProductAlreadyDefined", {
  sku: Schema.String
}) {
  override get message() {
    return `product ${this.sku} is already defined differently`
  }
}

export class InvalidQuantity extends Schema.TaggedError<InvalidQuantity>()("InvalidQuantity", {
  sku: Schema.String,
  quantity: Schema.Number
}) {
  override get message() {
    return `${this.quantity} is not a valid quantity for ${this.sku}`
  }
}

export class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", {
  sku: Schema.String,
  orderId: Schema.String,
  requested: Schema.Number,
  available: Schema.Number
}) {
  override get message() {
    return `${this.sku}: ${this.requested} requested for order ${this.orderId}, ${this.available} available`
  }
}

/** The order holds a reservation of another quantity; a reservation is never resized. */
export class ReservationMismatch extends Schema.TaggedError<ReservationMismatch>()("ReservationMismatch", {
  sku: Schema.String,
  orderId: Schema.String,
  reserved: Schema.Number,
  requested: Schema.Number
}) {
  override get message() {
    return `${this.sku}: order ${this.orderId} holds ${this.reserved}, not ${this.requested}`
  }
}

export class NoReservation extends Schema.TaggedError<NoReservation>()("NoReservation", {
  sku: Schema.String,
  orderId: Schema.String
}) {
  override get message() {
    return `${this.sku}: order ${this.orderId} holds no reservation`
  }
}

/** Every refusal of this aggregate, as one codec (its commands' errors cross the wire between nodes). */
export const InventoryError = Schema.Union([
  ProductNotFound,
  ProductAlreadyDefined,
  InvalidQuantity,
  OutOfStock,
  ReservationMismatch,
  NoReservation
])
export type InventoryError = typeof InventoryError.Type
