import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import {
  CancelShipment,
  CreateShipment,
  MarkShipmentDelivered,
  MarkShipmentShipped,
  Shipment,
  ShipmentCancelled,
  type ShipmentCommand,
  ShipmentCreated,
  ShipmentDelivered,
  type ShipmentEvent,
  ShipmentShipped,
  type ShipmentState,
  type ShipmentStatus,
  statusOf
} from "../../src/shipment/index.ts"
import { assertJsonRoundTrip, at } from "../Fixtures.ts"
import { arbitraryAt, checkAggregate, sequences } from "../Properties.ts"

const shipmentId = "ship-1"
const item = fc.record({
  sku: fc.constantFrom("A", "B"),
  quantity: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 3 }) }, fc.constant(0))
})

const create = fc
  .record({ orderId: fc.constantFrom("o1", "o2"), items: fc.array(item, { maxLength: 2 }), at: arbitraryAt })
  .map((c) => new CreateShipment({ shipmentId, ...c }))

const command: fc.Arbitrary<ShipmentCommand> = fc.oneof(
  { weight: 2, arbitrary: create },
  {
    weight: 3,
    arbitrary: fc
      .record({ trackingNumber: fc.constantFrom("T1", "T2", ""), at: arbitraryAt })
      .map((c) => new MarkShipmentShipped({ shipmentId, ...c }))
  },
  { weight: 2, arbitrary: arbitraryAt.map((at) => new MarkShipmentDelivered({ shipmentId, at })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ reason: fc.constantFrom("no courier", "refused"), at: arbitraryAt })
      .map((c) => new CancelShipment({ shipmentId, ...c }))
  }
)

const statusAfter: { readonly [Tag in ShipmentEvent["_tag"]]: ShipmentStatus } = {
  ShipmentCreated: "created",
  ShipmentShipped: "shipped",
  ShipmentDelivered: "delivered",
  ShipmentCancelled: "cancelled"
}
const next: { readonly [From in ShipmentStatus]: ReadonlyArray<ShipmentStatus> } = {
  created: ["shipped", "cancelled"],
  shipped: ["delivered"],
  delivered: [],
  cancelled: []
}

const invariant = (state: ShipmentState, events: ReadonlyArray<ShipmentEvent>) => {
  if (state._tag === "NoShipment") return assert.fail("events without a shipment")
  const statuses = events.map((e) => statusAfter[e._tag])
  assert.strictEqual(statuses[0], "created")
  const [from, to] = [statuses.at(-2), statuses.at(-1)]
  if (from !== undefined && to !== undefined) assert.include(next[from], to, `${from} → ${to}`)
  assert.strictEqual(statusOf(state), to)
  assert.isAbove(state.items.length, 0)
}

describe("Shipment properties", () => {
  it("only moves forward, and folds and round-trips, over any command sequence", () => {
    checkAggregate(
      Shipment,
      fc.tuple(create, sequences(command)).map(([first, rest]) => [first, ...rest]),
      { invariant, idempotent: () => true }
    )
  })

  it("round-trips every event and every state through JSON", () => {
    const created = new ShipmentCreated({ shipmentId, orderId: "o1", items: [{ sku: "A", quantity: 1 }], at: at(0) })
    const paths: ReadonlyArray<ReadonlyArray<ShipmentEvent>> = [
      [
        created,
        new ShipmentShipped({ shipmentId, orderId: "o1", trackingNumber: "T1", at: at(1) }),
        new ShipmentDelivered({ shipmentId, orderId: "o1", at: at(2) })
      ],
      [created, new ShipmentCancelled({ shipmentId, orderId: "o1", reason: "refused", at: at(1) })]
    ]
    for (const events of paths) {
      let state = Shipment.initialState
      assertJsonRoundTrip(Shipment.stateSchema, state)
      for (const event of events) {
        assertJsonRoundTrip(Shipment.eventSchema, event)
        state = Shipment.evolve(state, event)
        assertJsonRoundTrip(Shipment.stateSchema, state)
      }
    }
  })
})
