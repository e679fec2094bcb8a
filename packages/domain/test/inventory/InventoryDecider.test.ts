import { assert, describe, it } from "@effect/vitest"
import {
  available,
  CommitShipment,
  DefineProduct,
  InvalidQuantity,
  InventoryItem,
  NoReservation,
  OutOfStock,
  ProductAlreadyDefined,
  ProductDefined,
  ProductNotFound,
  Release,
  ReservationMismatch,
  Reserve,
  Restock,
  reservationsOf,
  StockReleased,
  StockReserved,
  StockRestocked,
  StockShipped,
  settledOf,
  settledWindow
} from "../../src/inventory/index.ts"
import * as Money from "../../src/Money.ts"
import { DeciderSpec } from "../DeciderSpec.ts"
import { at } from "../Fixtures.ts"

const sku = "BRK-PAD-001"
const o1 = "order-1"
const o2 = "order-2"
const price = Money.make(450000)
const define = new DefineProduct({ sku, name: "Brake pads", price, currency: "RUB", initialStock: 10, at: at(0) })
const defined = new ProductDefined({ sku, name: "Brake pads", price, currency: "RUB", initialStock: 10, at: at(0) })
const reserved1 = new StockReserved({ sku, orderId: o1, quantity: 4, at: at(1) })
const spec = DeciderSpec.for(InventoryItem)
const productState = (state: typeof InventoryItem.initialState) => {
  assert.strictEqual(state._tag, "Product")
  return state._tag === "Product" ? state : assert.fail("not a product")
}

describe("InventoryItem", () => {
  describe("when not defined", () => {
    it("defines the product with its initial stock", () => {
      const state = productState(spec.given([]).when(define).then([defined]))
      assert.deepStrictEqual([state.onHand, state.reserved, state.shipped, available(state)], [10, 0, 0, 10])
    })

    it("defines it with no stock when none is given", () => {
      spec
        .when(new DefineProduct({ sku, name: "Brake pads", price, currency: "RUB", at: at(0) }))
        .then([new ProductDefined({ ...defined, initialStock: 0 })])
    })

    it("refuses a negative or fractional initial stock", () => {
      spec
        .when(new DefineProduct({ ...define, initialStock: -1 }))
        .thenFails(new InvalidQuantity({ sku, quantity: -1 }))
      spec
        .when(new DefineProduct({ ...define, initialStock: 1.5 }))
        .thenFails(new InvalidQuantity({ sku, quantity: 1.5 }))
    })

    it("refuses every other command", () => {
      const notFound = new ProductNotFound({ sku })
      spec.when(new Restock({ sku, quantity: 1, at: at(1) })).thenFails(notFound)
      spec.when(new Reserve({ sku, orderId: o1, quantity: 1, at: at(1) })).thenFails(notFound)
      spec.when(new Release({ sku, orderId: o1, at: at(1) })).thenFails(notFound)
      spec.when(new CommitShipment({ sku, orderId: o1, at: at(1) })).thenFails(notFound)
    })
  })

  describe("when defined", () => {
    it("records nothing when defined again identically, whatever the initial stock", () => {
      spec
        .given([defined])
        .when(new DefineProduct({ ...define, initialStock: 99 }))
        .thenNothing()
    })

    it("refuses a redefinition with another name, price or currency", () => {
      const taken = new ProductAlreadyDefined({ sku })
      spec
        .given([defined])
        .when(new DefineProduct({ ...define, name: "Pads" }))
        .thenFails(taken)
      spec
        .given([defined])
        .when(new DefineProduct({ ...define, price: Money.make(1) }))
        .thenFails(taken)
      spec
        .given([defined])
        .when(new DefineProduct({ ...define, currency: "EUR" }))
        .thenFails(taken)
    })

    it("restocks", () => {
      const state = productState(
        spec
          .given([defined])
          .when(new Restock({ sku, quantity: 5, at: at(1) }))
          .then([new StockRestocked({ sku, quantity: 5, at: at(1) })])
      )
      assert.deepStrictEqual([state.onHand, state.received], [15, 15])
    })

    it("refuses a restock that is not a positive integer", () => {
      for (const quantity of [0, -3, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        spec
          .given([defined])
          .when(new Restock({ sku, quantity, at: at(1) }))
          .thenFails(new InvalidQuantity({ sku, quantity }))
      }
    })

    it("reserves a line whole", () => {
      const state = productState(
        spec
          .given([defined])
          .when(new Reserve({ sku, orderId: o1, quantity: 4, at: at(1) }))
          .then([reserved1])
      )
      assert.deepStrictEqual([state.onHand, state.reserved, available(state)], [10, 4, 6])
      assert.deepStrictEqual(reservationsOf(state), { [o1]: 4 })
    })

    it("reserves everything that is available", () => {
      spec
        .given([defined])
        .when(new Reserve({ sku, orderId: o1, quantity: 10, at: at(1) }))
        .then([new StockReserved({ sku, orderId: o1, quantity: 10, at: at(1) })])
    })

    it("refuses a line larger than what is available, reserving none of it", () => {
      spec
        .given([defined, reserved1])
        .when(new Reserve({ sku, orderId: o2, quantity: 7, at: at(2) }))
        .thenFails(new OutOfStock({ sku, orderId: o2, requested: 7, available: 6 }))
    })

    it("refuses a quantity that is not a positive integer", () => {
      spec
        .given([defined])
        .when(new Reserve({ sku, orderId: o1, quantity: 0, at: at(1) }))
        .thenFails(new InvalidQuantity({ sku, quantity: 0 }))
    })

    it("records nothing on a release or commit without a reservation of that order", () => {
      spec
        .given([defined])
        .when(new Release({ sku, orderId: o1, at: at(1) }))
        .thenNothing()
      spec
        .given([defined])
        .when(new CommitShipment({ sku, orderId: o1, at: at(1) }))
        .thenFails(new NoReservation({ sku, orderId: o1 }))
    })
  })

  describe("when an order holds a reservation", () => {
    it("records nothing when the same order reserves the same quantity again", () => {
      spec
        .given([defined, reserved1])
        .when(new Reserve({ sku, orderId: o1, quantity: 4, at: at(2) }))
        .thenNothing()
    })

    it("refuses to resize the reservation", () => {
      spec
        .given([defined, reserved1])
        .when(new Reserve({ sku, orderId: o1, quantity: 5, at: at(2) }))
        .thenFails(new ReservationMismatch({ sku, orderId: o1, reserved: 4, requested: 5 }))
    })

    it("releases it whole", () => {
      const state = productState(
        spec
          .given([defined, reserved1])
          .when(new Release({ sku, orderId: o1, at: at(2) }))
          .then([new StockReleased({ sku, orderId: o1, quantity: 4, at: at(2) })])
      )
      assert.deepStrictEqual([state.onHand, state.reserved, available(state)], [10, 0, 10])
      assert.deepStrictEqual(reservationsOf(state), {})
    })

    it("ships it: on hand and reserved fall, shipped rises", () => {
      const state = productState(
        spec
          .given([defined, reserved1])
          .when(new CommitShipment({ sku, orderId: o1, at: at(2) }))
          .then([new StockShipped({ sku, orderId: o1, quantity: 4, at: at(2) })])
      )
      assert.deepStrictEqual([state.onHand, state.reserved, state.shipped, available(state)], [6, 0, 4, 6])
    })

    it("keeps other orders' reservations apart", () => {
      const reserved2 = new StockReserved({ sku, orderId: o2, quantity: 3, at: at(2) })
      const state = productState(
        spec
          .given([defined, reserved1, reserved2])
          .when(new Release({ sku, orderId: o1, at: at(3) }))
          .then([new StockReleased({ sku, orderId: o1, quantity: 4, at: at(3) })])
      )
      assert.deepStrictEqual(reservationsOf(state), { [o2]: 3 })
      assert.strictEqual(state.reserved, 3)
    })
  })

  describe("when an order's reservation was released", () => {
    const history = [defined, reserved1, new StockReleased({ sku, orderId: o1, quantity: 4, at: at(2) })]

    it("records nothing on a late or repeated reserve, release or nothing to commit", () => {
      spec
        .given(history)
        .when(new Reserve({ sku, orderId: o1, quantity: 4, at: at(3) }))
        .thenNothing()
      spec
        .given(history)
        .when(new Release({ sku, orderId: o1, at: at(3) }))
        .thenNothing()
      spec
        .given(history)
        .when(new CommitShipment({ sku, orderId: o1, at: at(3) }))
        .thenFails(new NoReservation({ sku, orderId: o1 }))
    })
  })

  describe("when an order's reservation was shipped", () => {
    const history = [defined, reserved1, new StockShipped({ sku, orderId: o1, quantity: 4, at: at(2) })]

    it("records nothing on a repeated commit, release or reserve", () => {
      spec
        .given(history)
        .when(new CommitShipment({ sku, orderId: o1, at: at(3) }))
        .thenNothing()
      spec
        .given(history)
        .when(new Release({ sku, orderId: o1, at: at(3) }))
        .thenNothing()
      spec
        .given(history)
        .when(new Reserve({ sku, orderId: o1, quantity: 4, at: at(3) }))
        .thenNothing()
    })
  })

  describe("after more closed reservations than it remembers", () => {
    // o1 shipped first, then `settledWindow` other orders were reserved and released.
    const later = Array.from({ length: settledWindow }, (_, i) => [
      new StockReserved({ sku, orderId: `later-${i}`, quantity: 1, at: at(3) }),
      new StockReleased({ sku, orderId: `later-${i}`, quantity: 1, at: at(3) })
    ]).flat()
    const history = [defined, reserved1, new StockShipped({ sku, orderId: o1, quantity: 4, at: at(2) }), ...later]

    it("keeps only the latest closed reservations, so a SKU's state stops growing", () => {
      const state = productState(
        spec
          .given(history)
          .when(new Restock({ sku, quantity: 1, at: at(4) }))
          .then([new StockRestocked({ sku, quantity: 1, at: at(4) })])
      )
      const settled = Object.keys(settledOf(state))
      assert.strictEqual(settled.length, settledWindow)
      assert.deepStrictEqual([settled[0], settled.at(-1)], ["later-0", `later-${settledWindow - 1}`])
      assert.deepStrictEqual([state.onHand, state.reserved, state.shipped, state.received], [7, 0, 4, 11])
    })

    it("still recognises a repeat for the latest ones (older repeats are refused by command id in the store)", () => {
      spec
        .given(history)
        .when(new Reserve({ sku, orderId: `later-${settledWindow - 1}`, quantity: 1, at: at(4) }))
        .thenNothing()
      spec
        .given(history)
        .when(new Reserve({ sku, orderId: o1, quantity: 4, at: at(4) }))
        .then([new StockReserved({ sku, orderId: o1, quantity: 4, at: at(4) })])
    })
  })

  it("treats ids that are names on Object.prototype as plain ids", () => {
    spec
      .given([defined])
      .when(new Reserve({ sku, orderId: "constructor", quantity: 1, at: at(1) }))
      .then([new StockReserved({ sku, orderId: "constructor", quantity: 1, at: at(1) })])
    spec
      .given([defined])
      .when(new Release({ sku, orderId: "__proto__", at: at(1) }))
      .thenNothing()
  })
})
