import { assert, describe, it } from "@effect/vitest"
import {
  CancelShipment,
  CreateShipment,
  IllegalShipmentTransition,
  InvalidShipment,
  MarkShipmentDelivered,
  MarkShipmentShipped,
  Shipment,
  ShipmentAlreadyExists,
  ShipmentCancelled,
  ShipmentCreated,
  ShipmentDelivered,
  ShipmentNotFound,
  ShipmentShipped,
  type ShipmentStatus,
  statusOf
} from "../../src/shipment/index.ts"
import { DeciderSpec } from "../DeciderSpec.ts"
import { at } from "../Fixtures.ts"

const shipmentId = "ship-1"
const orderId = "order-1"
const items = [
  { sku: "BRK-PAD-001", quantity: 2 },
  { sku: "OIL-FLT-002", quantity: 1 }
]
const create = new CreateShipment({ shipmentId, orderId, items, at: at(0) })
const created = new ShipmentCreated({ shipmentId, orderId, items, at: at(0) })
const shipped = new ShipmentShipped({ shipmentId, orderId, trackingNumber: "TRK1", at: at(1) })
const delivered = new ShipmentDelivered({ shipmentId, orderId, at: at(2) })
const cancelled = new ShipmentCancelled({ shipmentId, orderId, reason: "address unreachable", at: at(1) })
const ship = (trackingNumber = "TRK1") => new MarkShipmentShipped({ shipmentId, trackingNumber, at: at(9) })
const deliver = new MarkShipmentDelivered({ shipmentId, at: at(9) })
const cancel = new CancelShipment({ shipmentId, reason: "no courier", at: at(9) })
const illegal = (from: ShipmentStatus, to: ShipmentStatus) => new IllegalShipmentTransition({ shipmentId, from, to })
const spec = DeciderSpec.for(Shipment)
const status = (state: typeof Shipment.initialState) => (state._tag === "NoShipment" ? "none" : statusOf(state))

describe("Shipment", () => {
  describe("when not created", () => {
    it("is created for an order's items", () => {
      assert.strictEqual(status(spec.when(create).then([created])), "created")
    })

    it("refuses no items or a bad quantity", () => {
      spec
        .when(new CreateShipment({ ...create, items: [] }))
        .thenFails(new InvalidShipment({ shipmentId, reason: "a shipment has items" }))
      spec
        .when(new CreateShipment({ ...create, items: [{ sku: "X", quantity: 0 }] }))
        .thenFails(new InvalidShipment({ shipmentId, reason: "X: invalid quantity" }))
    })

    it("refuses every other command", () => {
      const notFound = new ShipmentNotFound({ shipmentId })
      for (const command of [ship(), deliver, cancel]) spec.when(command).thenFails(notFound)
    })
  })

  describe("when created", () => {
    it("records nothing when created again identically", () => {
      spec.given([created]).when(create).thenNothing()
    })

    it("refuses the same id for another order or other items", () => {
      spec
        .given([created])
        .when(new CreateShipment({ ...create, orderId: "order-2" }))
        .thenFails(new ShipmentAlreadyExists({ shipmentId }))
      spec
        .given([created])
        .when(new CreateShipment({ ...create, items: [items[0]!] }))
        .thenFails(new ShipmentAlreadyExists({ shipmentId }))
    })

    it("ships with a tracking number", () => {
      spec
        .given([created])
        .when(ship())
        .then([new ShipmentShipped({ ...shipped, at: at(9) })])
    })

    it("refuses an empty tracking number", () => {
      spec
        .given([created])
        .when(ship(""))
        .thenFails(new InvalidShipment({ shipmentId, reason: "a tracking number is required" }))
    })

    it("cannot be delivered before it ships", () => {
      spec.given([created]).when(deliver).thenFails(illegal("created", "delivered"))
    })

    it("is cancelled by the shipping service", () => {
      spec
        .given([created])
        .when(cancel)
        .then([new ShipmentCancelled({ shipmentId, orderId, reason: "no courier", at: at(9) })])
    })
  })

  describe("when shipped", () => {
    const history = [created, shipped]

    it("records nothing when shipped again with the same tracking number", () => {
      spec.given(history).when(ship()).thenNothing()
    })

    it("refuses another tracking number", () => {
      spec.given(history).when(ship("TRK2")).thenFails(illegal("shipped", "shipped"))
    })

    it("is delivered", () => {
      const state = spec
        .given(history)
        .when(deliver)
        .then([new ShipmentDelivered({ ...delivered, at: at(9) })])
      assert.deepInclude(state, { _tag: "Delivered", trackingNumber: "TRK1", updatedAt: at(9) })
    })

    it("cannot be cancelled once it left", () => {
      spec.given(history).when(cancel).thenFails(illegal("shipped", "cancelled"))
    })
  })

  describe("when delivered", () => {
    const history = [created, shipped, delivered]

    it("records nothing when delivered again", () => {
      spec.given(history).when(deliver).thenNothing()
    })

    it("refuses to ship or cancel", () => {
      spec.given(history).when(ship()).thenFails(illegal("delivered", "shipped"))
      spec.given(history).when(cancel).thenFails(illegal("delivered", "cancelled"))
    })
  })

  describe("when cancelled", () => {
    const history = [created, cancelled]

    it("records nothing when cancelled again", () => {
      spec.given(history).when(cancel).thenNothing()
    })

    it("refuses to ship or deliver", () => {
      spec.given(history).when(ship()).thenFails(illegal("cancelled", "shipped"))
      spec.given(history).when(deliver).thenFails(illegal("cancelled", "delivered"))
    })
  })
})
