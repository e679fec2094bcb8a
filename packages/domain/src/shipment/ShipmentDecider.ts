/**
 * The shipment decider. Like the order, it only moves forward, and repeating
 * the move that led to the current state records nothing when the details
 * match (creating the same shipment, shipping with the same tracking number,
 * delivering a delivered one, cancelling a cancelled one); any other move is
 * `IllegalShipmentTransition`. A shipment that has left cannot be cancelled.
 */
import type { Aggregate } from "../Decider.ts"
import { accept, type Decision, ignore, reject } from "../Decision.ts"
import { type CreateShipment, ShipmentCommand } from "./ShipmentCommands.ts"
import {
  IllegalShipmentTransition,
  InvalidShipment,
  ShipmentAlreadyExists,
  ShipmentError,
  ShipmentNotFound
} from "./ShipmentErrors.ts"
import {
  ShipmentCancelled,
  ShipmentCreated,
  ShipmentDelivered,
  ShipmentEvent,
  ShipmentShipped
} from "./ShipmentEvents.ts"
import { type ExistingShipment, initialState, ShipmentState, type ShipmentStatus, statusOf } from "./ShipmentState.ts"

const sameContents = (shipment: ExistingShipment, command: CreateShipment): boolean =>
  shipment.orderId === command.orderId &&
  shipment.items.length === command.items.length &&
  shipment.items.every((item, i) => item.sku === command.items[i]?.sku && item.quantity === command.items[i]?.quantity)

const illegal = (shipment: ExistingShipment, to: ShipmentStatus) =>
  reject(new IllegalShipmentTransition({ shipmentId: shipment.shipmentId, from: statusOf(shipment), to }))

export const decide = (command: ShipmentCommand, state: ShipmentState): Decision<ShipmentEvent, ShipmentError> => {
  if (command._tag === "CreateShipment") {
    const { shipmentId, orderId, items, at } = command
    if (state._tag !== "NoShipment") {
      return sameContents(state, command) ? ignore : reject(new ShipmentAlreadyExists({ shipmentId }))
    }
    if (items.length === 0) return reject(new InvalidShipment({ shipmentId, reason: "a shipment has items" }))
    const bad = items.find((item) => !Number.isSafeInteger(item.quantity) || item.quantity < 1)
    if (bad !== undefined) return reject(new InvalidShipment({ shipmentId, reason: `${bad.sku}: invalid quantity` }))
    return accept(new ShipmentCreated({ shipmentId, orderId, items, at }))
  }
  if (state._tag === "NoShipment") return reject(new ShipmentNotFound({ shipmentId: command.shipmentId }))
  const { shipmentId, orderId } = state
  const { at } = command
  switch (command._tag) {
    case "MarkShipmentShipped": {
      const { trackingNumber } = command
      if (trackingNumber.length === 0) {
        return reject(new InvalidShipment({ shipmentId, reason: "a tracking number is required" }))
      }
      if (state._tag === "Created") return accept(new ShipmentShipped({ shipmentId, orderId, trackingNumber, at }))
      return state._tag === "Shipped" && state.trackingNumber === trackingNumber ? ignore : illegal(state, "shipped")
    }
    case "MarkShipmentDelivered":
      if (state._tag === "Shipped") return accept(new ShipmentDelivered({ shipmentId, orderId, at }))
      return state._tag === "Delivered" ? ignore : illegal(state, "delivered")
    case "CancelShipment":
      if (state._tag === "Created")
        return accept(new ShipmentCancelled({ shipmentId, orderId, reason: command.reason, at }))
      return state._tag === "Cancelled" ? ignore : illegal(state, "cancelled")
  }
}

const detailsOf = (shipment: ExistingShipment) => {
  const { shipmentId, orderId, items, createdAt, updatedAt } = shipment
  return { shipmentId, orderId, items, createdAt, updatedAt }
}

export const evolve = (state: ShipmentState, event: ShipmentEvent): ShipmentState => {
  if (event._tag === "ShipmentCreated") {
    if (state._tag !== "NoShipment") return state
    const { shipmentId, orderId, items, at } = event
    return { _tag: "Created", shipmentId, orderId, items, createdAt: at, updatedAt: at }
  }
  if (state._tag === "NoShipment") return state
  const details = { ...detailsOf(state), updatedAt: event.at }
  switch (event._tag) {
    case "ShipmentShipped":
      return { ...details, _tag: "Shipped", trackingNumber: event.trackingNumber }
    case "ShipmentDelivered":
      return state._tag === "Shipped" ? { ...details, _tag: "Delivered", trackingNumber: state.trackingNumber } : state
    case "ShipmentCancelled":
      return { ...details, _tag: "Cancelled", reason: event.reason }
  }
}

/** The shipment aggregate: streams `shipment-<shipmentId>`. */
export const Shipment: Aggregate<ShipmentCommand, ShipmentEvent, ShipmentState, ShipmentError> = {
  type: "shipment",
  initialState,
  decide,
  evolve,
  commandSchema: ShipmentCommand,
  errorSchema: ShipmentError,
  eventSchema: ShipmentEvent,
  stateSchema: ShipmentState,
  stateVersion: 1
}
