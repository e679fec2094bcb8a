/**
 * The order decider: the state machine of SPEC §3. A move the machine does
 * not allow is `IllegalTransition`. Repeating the move that led to the
 * current state records nothing, when it carries the same details: placing
 * the same order again, MarkOrderReserved on RESERVED, MarkOrderPaid on PAID
 * with the same payment id, MarkOrderShipped on SHIPPED with the same
 * shipment id and tracking number, MarkOrderDelivered on DELIVERED, and
 * CancelOrder on CANCELLED (whatever the reason: the first one stays). Moves
 * further back (e.g. MarkOrderReserved on PAID) stay illegal, so an admin
 * cannot move an order backwards.
 */
import type { Aggregate } from "../Decider.ts"
import { accept, type Decision, ignore, reject } from "../Decision.ts"
import * as Money from "../Money.ts"
import { OrderCommand, type PlaceOrder } from "./OrderCommands.ts"
import { IllegalTransition, InvalidOrder, OrderAlreadyPlaced, OrderError, OrderNotFound } from "./OrderErrors.ts"
import {
  OrderCancelled,
  OrderDelivered,
  OrderEvent,
  OrderPaid,
  OrderPlaced,
  OrderReserved,
  OrderShipped
} from "./OrderEvents.ts"
import { initialState, OrderState, type OrderStatus, type PlacedOrder, statusOf } from "./OrderState.ts"

/** Limits of SPEC §3: 1..50 distinct SKUs, 1..100 of each. */
export const maxLines = 50
export const maxQuantity = 100

/** Why these lines and total cannot make an order, if they cannot. */
const invalidReason = (command: PlaceOrder): string | undefined => {
  const { lines } = command
  if (lines.length < 1 || lines.length > maxLines) return `an order has 1 to ${maxLines} lines`
  if (new Set(lines.map((line) => line.sku)).size !== lines.length) return "a SKU appears on two lines"
  let total = 0
  for (const { sku, quantity, unitPrice } of lines) {
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > maxQuantity) {
      return `${sku}: quantity must be 1 to ${maxQuantity}`
    }
    if (!(unitPrice > 0)) return `${sku}: the unit price must be positive`
    total += quantity * unitPrice
  }
  if (!Money.isSafe(total)) return "the total is too large"
  if (total !== command.total)
    return `the total is ${Money.toDecimalString(total)}, not ${Money.toDecimalString(command.total)}`
  return undefined
}

const samePlacement = (order: PlacedOrder, command: PlaceOrder): boolean =>
  order.userId === command.userId &&
  order.total === command.total &&
  order.currency === command.currency &&
  order.paymentMethod === command.paymentMethod &&
  order.lines.length === command.lines.length &&
  order.lines.every((line, i) => {
    const other = command.lines[i]
    return (
      other !== undefined &&
      line.sku === other.sku &&
      line.name === other.name &&
      line.quantity === other.quantity &&
      line.unitPrice === other.unitPrice
    )
  })

const illegal = (order: PlacedOrder, to: OrderStatus) =>
  reject(new IllegalTransition({ orderId: order.orderId, from: statusOf(order), to }))

export const decide = (command: OrderCommand, state: OrderState): Decision<OrderEvent, OrderError> => {
  if (command._tag === "PlaceOrder") {
    const { orderId, userId, lines, total, currency, paymentMethod, cardToken, at } = command
    if (state._tag !== "NoOrder") {
      return samePlacement(state, command) ? ignore : reject(new OrderAlreadyPlaced({ orderId }))
    }
    const reason = invalidReason(command)
    if (reason !== undefined) return reject(new InvalidOrder({ orderId, reason }))
    if (paymentMethod === "card" && (cardToken === undefined || cardToken === "")) {
      return reject(new InvalidOrder({ orderId, reason: "a card payment needs a card token" }))
    }
    const token = paymentMethod === "card" && cardToken !== undefined ? { cardToken } : {}
    return accept(new OrderPlaced({ orderId, userId, lines, total, currency, paymentMethod, ...token, at }))
  }
  if (state._tag === "NoOrder") return reject(new OrderNotFound({ orderId: command.orderId }))
  const { orderId } = state
  const { at } = command
  switch (command._tag) {
    case "MarkOrderReserved":
      if (state._tag === "Pending") return accept(new OrderReserved({ orderId, at }))
      return state._tag === "Reserved" ? ignore : illegal(state, "RESERVED")
    case "MarkOrderPaid": {
      const { paymentId } = command
      if (state._tag === "Reserved") return accept(new OrderPaid({ orderId, paymentId, at }))
      return state._tag === "Paid" && state.paymentId === paymentId ? ignore : illegal(state, "PAID")
    }
    case "MarkOrderShipped": {
      const { shipmentId, trackingNumber } = command
      if (state._tag === "Paid") return accept(new OrderShipped({ orderId, shipmentId, trackingNumber, at }))
      const repeat =
        state._tag === "Shipped" && state.shipmentId === shipmentId && state.trackingNumber === trackingNumber
      return repeat ? ignore : illegal(state, "SHIPPED")
    }
    case "MarkOrderDelivered":
      if (state._tag === "Shipped") return accept(new OrderDelivered({ orderId, at }))
      return state._tag === "Delivered" ? ignore : illegal(state, "DELIVERED")
    case "CancelOrder":
      switch (state._tag) {
        case "Pending":
        case "Reserved":
        case "Paid":
          return accept(new OrderCancelled({ orderId, reason: command.reason, at }))
        case "Cancelled":
          return ignore
        case "Shipped":
        case "Delivered":
          return illegal(state, "CANCELLED")
      }
  }
}

const detailsOf = (order: PlacedOrder) => {
  const { orderId, userId, lines, total, currency, paymentMethod, placedAt, updatedAt } = order
  return { orderId, userId, lines, total, currency, paymentMethod, placedAt, updatedAt }
}

export const evolve = (state: OrderState, event: OrderEvent): OrderState => {
  if (event._tag === "OrderPlaced") {
    if (state._tag !== "NoOrder") return state
    const { orderId, userId, lines, total, currency, paymentMethod, at } = event
    return { _tag: "Pending", orderId, userId, lines, total, currency, paymentMethod, placedAt: at, updatedAt: at }
  }
  if (state._tag === "NoOrder") return state
  const details = { ...detailsOf(state), updatedAt: event.at }
  switch (event._tag) {
    case "OrderReserved":
      return { ...details, _tag: "Reserved" }
    case "OrderPaid":
      return { ...details, _tag: "Paid", paymentId: event.paymentId }
    case "OrderShipped":
      return state._tag === "Paid"
        ? {
            ...details,
            _tag: "Shipped",
            paymentId: state.paymentId,
            shipmentId: event.shipmentId,
            trackingNumber: event.trackingNumber
          }
        : state
    case "OrderDelivered":
      return state._tag === "Shipped" ? { ...state, _tag: "Delivered", updatedAt: event.at } : state
    case "OrderCancelled":
      return {
        ...details,
        _tag: "Cancelled",
        reason: event.reason,
        paymentId: state._tag === "Paid" ? state.paymentId : null
      }
  }
}

/** The order aggregate: streams `order-<orderId>`. */
export const Order: Aggregate<OrderCommand, OrderEvent, OrderState, OrderError> = {
  type: "order",
  initialState,
  decide,
  evolve,
  commandSchema: OrderCommand,
  errorSchema: OrderError,
  eventSchema: OrderEvent,
  stateSchema: OrderState,
  stateVersion: 1
}
