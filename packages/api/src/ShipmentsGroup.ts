/**
 * Shipments: the order owner's (or an admin's) view of a shipment, and the
 * admin's "delivered" mark, which moves the order to DELIVERED with it.
 */
import { Shipment } from "@agora/domain"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Authentication } from "./Authentication.ts"
import { Conflict, Forbidden, NotFound, Unavailable } from "./Problems.ts"
import { RequireAdmin } from "./RequireAdmin.ts"

export const ShipmentBody = Schema.Struct({
  id: Schema.String,
  order_id: Schema.String,
  status: Shipment.ShipmentStatus,
  items: Schema.Array(Schema.Struct({ sku: Schema.String, quantity: Schema.Number })),
  tracking_number: Schema.NullOr(Schema.String),
  cancel_reason: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String
})

const IdParams = { id: Schema.String }

export class ShipmentsGroup extends HttpApiGroup.make("shipments")
  .add(
    HttpApiEndpoint.get("shipment", "/api/shipments/:id", {
      params: IdParams,
      success: ShipmentBody,
      error: [NotFound, Unavailable]
    })
  )
  .middleware(Authentication) {}

export class ShipmentsAdminGroup extends HttpApiGroup.make("shipmentsAdmin")
  .add(
    HttpApiEndpoint.post("deliver", "/api/admin/shipments/:id/deliver", {
      params: IdParams,
      success: ShipmentBody,
      error: [Forbidden, NotFound, Conflict, Unavailable]
    })
  )
  .middleware(RequireAdmin)
  .middleware(Authentication) {}
