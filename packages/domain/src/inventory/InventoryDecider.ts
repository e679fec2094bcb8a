/**
 * The stock decider for one SKU. Reservations are per order and all or
 * nothing: an order's line is reserved whole or refused with `OutOfStock`,
 * and never more than is available, so on_hand, reserved and available stay
 * non-negative. Repeats are harmless: reserving again for the same order (or
 * for an order whose reservation was lately released or shipped: see
 * `settledWindow`), releasing an order that holds nothing and committing a
 * shipment twice record nothing.
 */
import type { Aggregate } from "../Decider.ts"
import { accept, type Decision, ignore, reject } from "../Decision.ts"
import { emptyEntries, emptyWindow, lookup, lookupIn, withEntry, withLatest, withoutEntry } from "../internal/Keyed.ts"
import { InventoryCommand } from "./InventoryCommands.ts"
import {
  InvalidQuantity,
  InventoryError,
  NoReservation,
  OutOfStock,
  ProductAlreadyDefined,
  ProductNotFound,
  ReservationMismatch
} from "./InventoryErrors.ts"
import {
  InventoryEvent,
  ProductDefined,
  StockReleased,
  StockReserved,
  StockRestocked,
  StockShipped
} from "./InventoryEvents.ts"
import { available, InventoryState, initialState, settledWindow } from "./InventoryState.ts"

const isQuantity = (n: number): boolean => Number.isSafeInteger(n) && n > 0

export const decide = (command: InventoryCommand, state: InventoryState): Decision<InventoryEvent, InventoryError> => {
  if (command._tag === "DefineProduct") {
    if (state._tag === "Product") {
      const same = state.name === command.name && state.price === command.price && state.currency === command.currency
      return same ? ignore : reject(new ProductAlreadyDefined({ sku: state.sku }))
    }
    const initialStock = command.initialStock ?? 0
    if (!Number.isSafeInteger(initialStock) || initialStock < 0) {
      return reject(new InvalidQuantity({ sku: command.sku, quantity: initialStock }))
    }
    const { sku, name, price, currency, at } = command
    return accept(new ProductDefined({ sku, name, price, currency, initialStock, at }))
  }
  if (state._tag === "NotDefined") return reject(new ProductNotFound({ sku: command.sku }))
  const { sku } = state
  switch (command._tag) {
    case "Restock": {
      const { quantity, at } = command
      if (!isQuantity(quantity) || !Number.isSafeInteger(state.received + quantity)) {
        return reject(new InvalidQuantity({ sku, quantity }))
      }
      return accept(new StockRestocked({ sku, quantity, at }))
    }
    case "Reserve": {
      const { orderId, quantity, at } = command
      if (!isQuantity(quantity)) return reject(new InvalidQuantity({ sku, quantity }))
      const held = lookup(state.reservations, orderId)
      if (held !== undefined) {
        return held === quantity
          ? ignore
          : reject(new ReservationMismatch({ sku, orderId, reserved: held, requested: quantity }))
      }
      if (lookupIn(state.settled, orderId) !== undefined) return ignore
      if (quantity > available(state)) {
        return reject(new OutOfStock({ sku, orderId, requested: quantity, available: available(state) }))
      }
      return accept(new StockReserved({ sku, orderId, quantity, at }))
    }
    case "Release": {
      const held = lookup(state.reservations, command.orderId)
      if (held === undefined) return ignore
      return accept(new StockReleased({ sku, orderId: command.orderId, quantity: held, at: command.at }))
    }
    case "CommitShipment": {
      const held = lookup(state.reservations, command.orderId)
      if (held !== undefined) {
        return accept(new StockShipped({ sku, orderId: command.orderId, quantity: held, at: command.at }))
      }
      return lookupIn(state.settled, command.orderId) === "shipped"
        ? ignore
        : reject(new NoReservation({ sku, orderId: command.orderId }))
    }
  }
}

export const evolve = (state: InventoryState, event: InventoryEvent): InventoryState => {
  if (event._tag === "ProductDefined") {
    if (state._tag === "Product") return state
    return {
      _tag: "Product",
      sku: event.sku,
      name: event.name,
      price: event.price,
      currency: event.currency,
      onHand: event.initialStock,
      reserved: 0,
      shipped: 0,
      received: event.initialStock,
      reservations: emptyEntries(),
      settled: emptyWindow(),
      updatedAt: event.at
    }
  }
  if (state._tag === "NotDefined") return state
  switch (event._tag) {
    case "StockRestocked":
      return {
        ...state,
        onHand: state.onHand + event.quantity,
        received: state.received + event.quantity,
        updatedAt: event.at
      }
    case "StockReserved":
      return {
        ...state,
        reserved: state.reserved + event.quantity,
        reservations: withEntry(state.reservations, event.orderId, event.quantity),
        updatedAt: event.at
      }
    case "StockReleased":
      return {
        ...state,
        reserved: state.reserved - event.quantity,
        reservations: withoutEntry(state.reservations, event.orderId),
        settled: withLatest(state.settled, event.orderId, "released", settledWindow),
        updatedAt: event.at
      }
    case "StockShipped":
      return {
        ...state,
        onHand: state.onHand - event.quantity,
        reserved: state.reserved - event.quantity,
        shipped: state.shipped + event.quantity,
        reservations: withoutEntry(state.reservations, event.orderId),
        settled: withLatest(state.settled, event.orderId, "shipped", settledWindow),
        updatedAt: event.at
      }
  }
}

/** The stock aggregate: streams `inventory-<sku>`. */
export const InventoryItem: Aggregate<InventoryCommand, InventoryEvent, InventoryState, InventoryError> = {
  type: "inventory",
  initialState,
  decide,
  evolve,
  commandSchema: InventoryCommand,
  errorSchema: InventoryError,
  eventSchema: InventoryEvent,
  stateSchema: InventoryState,
  stateVersion: 1
}
