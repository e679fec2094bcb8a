import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import {
  available,
  CommitShipment,
  DefineProduct,
  type InventoryCommand,
  type InventoryEvent,
  InventoryItem,
  type InventoryState,
  ProductDefined,
  Release,
  Reserve,
  Restock,
  reservationsOf,
  StockReleased,
  StockReserved,
  StockRestocked,
  StockShipped,
  settledOf
} from "../../src/inventory/index.ts"
import * as Money from "../../src/Money.ts"
import { assertJsonRoundTrip, at } from "../Fixtures.ts"
import { arbitraryAt, checkAggregate, count, sequences } from "../Properties.ts"

const sku = "SKU-1"
// Few order ids, so that repeats and collisions happen; two of them are Object.prototype names.
const orderId = fc.constantFrom("o1", "o2", "o3", "constructor", "__proto__")
const quantity = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 12 }) }, fc.constantFrom(0, -1, 1.5))

const define = fc
  .record({
    name: fc.constantFrom("Pads", "Filter"),
    price: fc.constantFrom(Money.make(100), Money.make(250)),
    initialStock: fc.option(fc.integer({ min: -1, max: 20 }), { nil: undefined, freq: 5 }),
    at: arbitraryAt
  })
  .map(({ initialStock, ...rest }) =>
    initialStock === undefined
      ? new DefineProduct({ sku, currency: "RUB", ...rest })
      : new DefineProduct({ sku, currency: "RUB", initialStock, ...rest })
  )

const command: fc.Arbitrary<InventoryCommand> = fc.oneof(
  { weight: 1, arbitrary: define },
  { weight: 2, arbitrary: fc.record({ quantity, at: arbitraryAt }).map((c) => new Restock({ sku, ...c })) },
  { weight: 5, arbitrary: fc.record({ orderId, quantity, at: arbitraryAt }).map((c) => new Reserve({ sku, ...c })) },
  { weight: 3, arbitrary: fc.record({ orderId, at: arbitraryAt }).map((c) => new Release({ sku, ...c })) },
  { weight: 3, arbitrary: fc.record({ orderId, at: arbitraryAt }).map((c) => new CommitShipment({ sku, ...c })) }
)

const sum = (events: ReadonlyArray<InventoryEvent>, tag: InventoryEvent["_tag"]) =>
  events.reduce((n, e) => (e._tag === tag && "quantity" in e ? n + e.quantity : n), 0)

const invariant = (state: InventoryState, events: ReadonlyArray<InventoryEvent>) => {
  if (state._tag !== "Product") return assert.fail("stock events without a product")
  // Never negative, never oversold.
  assert.isAtLeast(state.reserved, 0)
  assert.isAtMost(state.reserved, state.onHand)
  assert.isAtLeast(available(state), 0)
  assert.strictEqual(
    state.reserved,
    Object.values(reservationsOf(state)).reduce((a, b) => a + b, 0)
  )
  // Conserved: initial + restocked = on_hand + shipped.
  const initial = events[0]?._tag === "ProductDefined" ? events[0].initialStock : assert.fail("first event")
  assert.strictEqual(initial + sum(events, "StockRestocked"), state.onHand + state.shipped)
  assert.strictEqual(state.received, state.onHand + state.shipped)
  assert.strictEqual(state.shipped, sum(events, "StockShipped"))
  // One reservation per order, and a settled order holds none.
  const last = events.at(-1)
  if (last !== undefined && last._tag === "StockReserved") {
    assert.strictEqual(
      count(events, (e) => e._tag === "StockReserved" && e.orderId === last.orderId),
      1
    )
  }
  for (const id of Object.keys(settledOf(state))) assert.isFalse(Object.hasOwn(reservationsOf(state), id))
  assert.strictEqual(
    count(events, (e) => e._tag === "ProductDefined"),
    1
  )
}

describe("InventoryItem properties", () => {
  it("keeps stock conserved and non-negative, and folds and round-trips, over any command sequence", () => {
    checkAggregate(
      InventoryItem,
      fc.tuple(define, sequences(command)).map(([first, rest]) => [first, ...rest]),
      { invariant, idempotent: (c) => c._tag !== "Restock" }
    )
  })

  it("round-trips every event and every state through JSON", () => {
    const events = [
      new ProductDefined({ sku, name: "Pads", price: Money.make(100), currency: "RUB", initialStock: 5, at: at(0) }),
      new StockRestocked({ sku, quantity: 3, at: at(1) }),
      new StockReserved({ sku, orderId: "o1", quantity: 2, at: at(2) }),
      new StockReserved({ sku, orderId: "__proto__", quantity: 1, at: at(2) }),
      new StockReleased({ sku, orderId: "o1", quantity: 2, at: at(3) }),
      new StockShipped({ sku, orderId: "__proto__", quantity: 1, at: at(4) })
    ]
    let state = InventoryItem.initialState
    assertJsonRoundTrip(InventoryItem.stateSchema, state)
    for (const event of events) {
      assertJsonRoundTrip(InventoryItem.eventSchema, event)
      state = InventoryItem.evolve(state, event)
      assertJsonRoundTrip(InventoryItem.stateSchema, state)
    }
  })
})
