/** Why an order command was refused. */
import { Schema } from "effect"
import { OrderStatus } from "./OrderState.ts"

export class OrderNotFound extends Schema.TaggedError<OrderNotFound>()("OrderNotFound", {
  orderId: Schema.String
}) {
  override get message() {
    return `order ${this.orderId} does not exist`
  }
}

/** The id is taken by an order with other contents. */
export class OrderAlreadyPlaced extends Schema.TaggedError<OrderAlreadyPlaced>()("OrderAlreadyPlaced", {
  orderId: Schema.String
}) {
  override get message() {
    return `order ${this.orderId} was already placed with other contents`
  }
}

/** The lines or the total are malformed (see `reason`). */
export class InvalidOrder extends Schema.TaggedError<InvalidOrder>()("InvalidOrder", {
  orderId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `order ${this.orderId}: ${this.reason}`
  }
}

/** The state machine does not allow this move (or a repeat with other details). */
export class IllegalTransition extends Schema.TaggedError<IllegalTransition>()("IllegalTransition", {
  orderId: Schema.String,
  from: OrderStatus,
  to: OrderStatus
}) {
  override get message() {
    return `order ${this.orderId} cannot go from ${this.from} to ${this.to}`
  }
}

/** Every refusal of this aggregate, as one codec (its commands' errors cross the wire between nodes). */
export const OrderError = Schema.Union([OrderNotFound, OrderAlreadyPlaced, InvalidOrder, IllegalTransition])
export type OrderError = typeof OrderError.Type
