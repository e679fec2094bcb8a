/** Shipment handlers: the order owner's view, and the admin's delivery mark. */
import { Shipments } from "@agora/app"
import { DateTime, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "./Api.ts"
import { unavailable } from "./AuthHandlers.ts"
import { CurrentUser, isAdmin } from "./CurrentUser.ts"
import { Conflict, NotFound } from "./Problems.ts"

export const shipmentBody = (shipment: Shipments.ShipmentView) => ({
  id: shipment.id,
  order_id: shipment.orderId,
  status: shipment.status,
  items: shipment.items,
  tracking_number: shipment.trackingNumber,
  cancel_reason: shipment.cancelReason,
  created_at: DateTime.formatIso(shipment.createdAt),
  updated_at: DateTime.formatIso(shipment.updatedAt)
})

const noShipment = () =>
  Effect.fail(new NotFound({ detail: "No shipment with this id is visible to you", code: "shipment_not_found" }))

export const ShipmentsHandlers = HttpApiBuilder.group(Api, "shipments", (handlers) =>
  Effect.gen(function* () {
    const shipments = yield* Shipments.Shipments
    return handlers.handle("shipment", ({ params }) =>
      CurrentUser.use((caller) =>
        shipments
          .get(params.id, { userId: caller.userId, admin: isAdmin(caller) })
          .pipe(
            Effect.map(shipmentBody),
            Effect.catchTags({ ShipmentNotFound: noShipment, UnexpectedShipmentError: unavailable })
          )
      )
    )
  })
)

export const ShipmentsAdminHandlers = HttpApiBuilder.group(Api, "shipmentsAdmin", (handlers) =>
  Effect.gen(function* () {
    const shipments = yield* Shipments.Shipments
    return handlers.handle("deliver", ({ params }) =>
      shipments.deliver(params.id).pipe(
        Effect.map(shipmentBody),
        Effect.catchTags({
          ShipmentNotFound: noShipment,
          IllegalShipmentTransition: (e) =>
            Effect.fail(
              new Conflict({
                detail: `The shipment is ${e.from}: only a shipped shipment can be delivered`,
                code: "illegal_transition"
              })
            ),
          UnexpectedShipmentError: unavailable
        })
      )
    )
  })
)
