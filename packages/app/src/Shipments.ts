/**
 * Shipments as the order's owner and the admin see them, and the admin's
 * "delivered" mark. A shipment belongs to an order, so it is visible to
 * whoever may see that order. Delivery moves the shipment and its order
 * together, in one transaction, so the two never disagree.
 */
import { ActorRuntime, part } from "@agora/actors"
import { Order, Shipment } from "@agora/domain"
import { Uuid } from "@agora/eventstore"
import { Context, DateTime, Effect, Layer, Schema } from "effect"
import type { Viewer } from "./Orders.ts"

/** A shipment as the API shows it. */
export interface ShipmentView {
  readonly id: string
  readonly orderId: string
  readonly status: Shipment.ShipmentStatus
  readonly items: ReadonlyArray<Shipment.ShipmentItem>
  readonly trackingNumber: string | null
  readonly cancelReason: string | null
  readonly createdAt: DateTime.Utc
  readonly updatedAt: DateTime.Utc
}

/** A failure of the store or runtime, not of the request: the API answers 503. */
export class UnexpectedShipmentError extends Schema.TaggedError<UnexpectedShipmentError>()("UnexpectedShipmentError", {
  cause: Schema.Defect()
}) {}

export class Shipments extends Context.Service<
  Shipments,
  {
    readonly get: (
      shipmentId: string,
      viewer: Viewer
    ) => Effect.Effect<ShipmentView, Shipment.ShipmentNotFound | UnexpectedShipmentError>
    /** Marks a shipped shipment (and its order) delivered; delivering a delivered one changes nothing. */
    readonly deliver: (
      shipmentId: string
    ) => Effect.Effect<
      ShipmentView,
      Shipment.ShipmentNotFound | Shipment.IllegalShipmentTransition | UnexpectedShipmentError
    >
  }
>()("@agora/app/Shipments") {}

export const viewOf = (state: Shipment.ExistingShipment): ShipmentView => ({
  id: state.shipmentId,
  orderId: state.orderId,
  status: Shipment.statusOf(state),
  items: state.items,
  trackingNumber: "trackingNumber" in state ? state.trackingNumber : null,
  cancelReason: state._tag === "Cancelled" ? state.reason : null,
  createdAt: state.createdAt,
  updatedAt: state.updatedAt
})

export const make = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const unexpected = (cause: unknown) => Effect.fail(new UnexpectedShipmentError({ cause }))
  const infrastructure = { ConcurrencyConflict: unexpected, EventStoreError: unexpected } as const

  const existing = Effect.fn("Shipments.existing")(function* (shipmentId: string) {
    if (!Uuid.isUuid(shipmentId)) return yield* new Shipment.ShipmentNotFound({ shipmentId })
    const { state } = yield* actors.state(Shipment.Shipment, shipmentId).pipe(Effect.catchTags(infrastructure))
    if (state._tag === "NoShipment") return yield* new Shipment.ShipmentNotFound({ shipmentId })
    return state
  })

  const get = Effect.fn("Shipments.get")(function* (shipmentId: string, viewer: Viewer) {
    const state = yield* existing(shipmentId)
    if (!viewer.admin) {
      const { state: order } = yield* actors.state(Order.Order, state.orderId).pipe(Effect.catchTags(infrastructure))
      if (order._tag === "NoOrder" || order.userId !== viewer.userId) {
        return yield* new Shipment.ShipmentNotFound({ shipmentId })
      }
    }
    return viewOf(state)
  })

  const deliver = Effect.fn("Shipments.deliver")(function* (shipmentId: string) {
    const state = yield* existing(shipmentId)
    const at = yield* DateTime.now
    const [shipment] = yield* actors
      .sendTogether(
        [
          part(Shipment.Shipment, shipmentId, new Shipment.MarkShipmentDelivered({ shipmentId, at })),
          part(Order.Order, state.orderId, new Order.MarkOrderDelivered({ orderId: state.orderId, at }))
        ],
        { correlationId: state.orderId }
      )
      .pipe(
        Effect.catchTags({
          ...infrastructure,
          ShipmentAlreadyExists: unexpected,
          InvalidShipment: unexpected,
          OrderNotFound: unexpected,
          OrderAlreadyPlaced: unexpected,
          InvalidOrder: unexpected,
          // The shipment says shipped but its order disagrees: a bug of ours, not the admin's.
          IllegalTransition: unexpected
        })
      )
    if (shipment.state._tag === "NoShipment") return yield* new Shipment.ShipmentNotFound({ shipmentId })
    return viewOf(shipment.state)
  })

  return Shipments.of({ get, deliver })
})

export const layer = Layer.effect(Shipments, make)
