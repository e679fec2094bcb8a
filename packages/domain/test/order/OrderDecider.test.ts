import { assert, describe, it } from "@effect/vitest"
import { fold } from "../../src/Decider.ts"
import * as Money from "../../src/Money.ts"
import {
  CancelOrder,
  IllegalTransition,
  InvalidOrder,
  MarkOrderDelivered,
  MarkOrderPaid,
  MarkOrderReserved,
  MarkOrderShipped,
  Order,
  OrderAlreadyPlaced,
  OrderCancelled,
  OrderDelivered,
  type OrderEvent,
  OrderNotFound,
  OrderPaid,
  OrderPlaced,
  OrderReserved,
  OrderShipped,
  type OrderStatus,
  PlaceOrder,
  statusOf
} from "../../src/order/index.ts"
import { DeciderSpec } from "../DeciderSpec.ts"
import { at } from "../Fixtures.ts"

const orderId = "order-1"
const m = Money.make
const lines = [
  { sku: "BRK-PAD-001", name: "Brake pads", quantity: 2, unitPrice: m(450000) },
  { sku: "OIL-FLT-002", name: "Oil filter", quantity: 1, unitPrice: m(89950) }
]
const place = new PlaceOrder({
  orderId,
  userId: "user-1",
  lines,
  total: m(989950),
  currency: "RUB",
  paymentMethod: "account",
  at: at(0)
})
const placed = new OrderPlaced({
  orderId,
  userId: "user-1",
  lines,
  total: m(989950),
  currency: "RUB",
  paymentMethod: "account",
  at: at(0)
})
const reserved = new OrderReserved({ orderId, at: at(1) })
const paid = new OrderPaid({ orderId, paymentId: "pay-1", at: at(2) })
const shipped = new OrderShipped({ orderId, shipmentId: "ship-1", trackingNumber: "TRK1", at: at(3) })
const delivered = new OrderDelivered({ orderId, at: at(4) })
const cancelled = new OrderCancelled({ orderId, reason: "out_of_stock", at: at(2) })
const spec = DeciderSpec.for(Order)

const reserve = new MarkOrderReserved({ orderId, at: at(9) })
const pay = (paymentId = "pay-1") => new MarkOrderPaid({ orderId, paymentId, at: at(9) })
const ship = (shipmentId = "ship-1", trackingNumber = "TRK1") =>
  new MarkOrderShipped({ orderId, shipmentId, trackingNumber, at: at(9) })
const deliver = new MarkOrderDelivered({ orderId, at: at(9) })
const cancel = new CancelOrder({ orderId, reason: "cancelled_by_user", at: at(9) })

const illegal = (from: OrderStatus, to: OrderStatus) => new IllegalTransition({ orderId, from, to })
const status = (state: typeof Order.initialState) => (state._tag === "NoOrder" ? "none" : statusOf(state))

describe("Order", () => {
  describe("when not placed", () => {
    it("is placed PENDING with its lines and total", () => {
      assert.strictEqual(status(spec.when(place).then([placed])), "PENDING")
    })

    const invalid = (reason: string, changes: Partial<PlaceOrder>) => () =>
      spec.when(new PlaceOrder({ ...place, ...changes })).thenFails(new InvalidOrder({ orderId, reason }))

    it("refuses an order without lines", invalid("an order has 1 to 50 lines", { lines: [] }))
    it(
      "refuses more than 50 lines",
      invalid("an order has 1 to 50 lines", {
        lines: Array.from({ length: 51 }, (_, i) => ({ sku: `S${i}`, name: "x", quantity: 1, unitPrice: m(1) })),
        total: m(51)
      })
    )
    it("refuses a repeated SKU", invalid("a SKU appears on two lines", { lines: [lines[0]!, lines[0]!] }))
    for (const quantity of [0, 101, 1.5]) {
      it(
        `refuses a quantity of ${quantity}`,
        invalid("BRK-PAD-001: quantity must be 1 to 100", { lines: [{ ...lines[0]!, quantity }] })
      )
    }
    it(
      "refuses a unit price that is not positive",
      invalid("BRK-PAD-001: the unit price must be positive", {
        lines: [{ ...lines[0]!, unitPrice: m(0) }],
        total: m(0)
      })
    )
    it(
      "refuses a total that disagrees with the lines",
      invalid("the total is 9899.50, not 9899.49", { total: m(989949) })
    )
    it(
      "refuses a card payment without a card token",
      invalid("a card payment needs a card token", { paymentMethod: "card" })
    )
    it("records the card token of a card payment, and only of one", () => {
      spec
        .when(new PlaceOrder({ ...place, paymentMethod: "card", cardToken: "tok_ok" }))
        .then([new OrderPlaced({ ...placed, paymentMethod: "card", cardToken: "tok_ok" })])
      spec.when(new PlaceOrder({ ...place, cardToken: "tok_ok" })).then([placed])
    })
    it("accepts 100 of an item", () => {
      const line = { ...lines[0]!, quantity: 100 }
      spec
        .when(new PlaceOrder({ ...place, lines: [line], total: m(45_000_000) }))
        .then([new OrderPlaced({ ...placed, lines: [line], total: m(45_000_000) })])
    })

    it("refuses every other command", () => {
      const notFound = new OrderNotFound({ orderId })
      for (const command of [reserve, pay(), ship(), deliver, cancel]) spec.when(command).thenFails(notFound)
    })
  })

  // Each status, the history that reaches it, and what every command does there.
  type Outcome = OrderEvent | "nothing" | IllegalTransition
  const table: ReadonlyArray<{
    readonly status: OrderStatus
    readonly history: ReadonlyArray<OrderEvent>
    readonly reserve: Outcome
    readonly pay: Outcome
    readonly ship: Outcome
    readonly deliver: Outcome
    readonly cancel: Outcome
  }> = [
    {
      status: "PENDING",
      history: [placed],
      reserve: new OrderReserved({ orderId, at: at(9) }),
      pay: illegal("PENDING", "PAID"),
      ship: illegal("PENDING", "SHIPPED"),
      deliver: illegal("PENDING", "DELIVERED"),
      cancel: new OrderCancelled({ orderId, reason: "cancelled_by_user", at: at(9) })
    },
    {
      status: "RESERVED",
      history: [placed, reserved],
      reserve: "nothing",
      pay: new OrderPaid({ orderId, paymentId: "pay-1", at: at(9) }),
      ship: illegal("RESERVED", "SHIPPED"),
      deliver: illegal("RESERVED", "DELIVERED"),
      cancel: new OrderCancelled({ orderId, reason: "cancelled_by_user", at: at(9) })
    },
    {
      status: "PAID",
      history: [placed, reserved, paid],
      reserve: illegal("PAID", "RESERVED"),
      pay: "nothing",
      ship: new OrderShipped({ orderId, shipmentId: "ship-1", trackingNumber: "TRK1", at: at(9) }),
      deliver: illegal("PAID", "DELIVERED"),
      cancel: new OrderCancelled({ orderId, reason: "cancelled_by_user", at: at(9) })
    },
    {
      status: "SHIPPED",
      history: [placed, reserved, paid, shipped],
      reserve: illegal("SHIPPED", "RESERVED"),
      pay: illegal("SHIPPED", "PAID"),
      ship: "nothing",
      deliver: new OrderDelivered({ orderId, at: at(9) }),
      cancel: illegal("SHIPPED", "CANCELLED")
    },
    {
      status: "DELIVERED",
      history: [placed, reserved, paid, shipped, delivered],
      reserve: illegal("DELIVERED", "RESERVED"),
      pay: illegal("DELIVERED", "PAID"),
      ship: illegal("DELIVERED", "SHIPPED"),
      deliver: "nothing",
      cancel: illegal("DELIVERED", "CANCELLED")
    },
    {
      status: "CANCELLED",
      history: [placed, cancelled],
      reserve: illegal("CANCELLED", "RESERVED"),
      pay: illegal("CANCELLED", "PAID"),
      ship: illegal("CANCELLED", "SHIPPED"),
      deliver: illegal("CANCELLED", "DELIVERED"),
      cancel: "nothing"
    }
  ]
  const commands = { reserve, pay: pay(), ship: ship(), deliver, cancel } as const

  for (const row of table) {
    describe(`when ${row.status}`, () => {
      it(`is ${row.status}`, () => {
        assert.strictEqual(status(fold(Order, Order.initialState, row.history)), row.status)
      })

      for (const name of ["reserve", "pay", "ship", "deliver", "cancel"] as const) {
        const outcome = row[name]
        const run = () => spec.given(row.history).when(commands[name])
        if (outcome === "nothing") {
          it(`records nothing on ${commands[name]._tag} (a repeat)`, () => run().thenNothing())
        } else if (outcome instanceof IllegalTransition) {
          it(`refuses ${commands[name]._tag}: ${outcome.from} → ${outcome.to} is illegal`, () =>
            run().thenFails(outcome))
        } else {
          it(`${commands[name]._tag} records ${outcome._tag}`, () => {
            run().then([outcome])
          })
        }
      }

      it("records nothing when the same order is placed again", () => {
        spec.given(row.history).when(place).thenNothing()
      })

      it("refuses the same id placed with other contents", () => {
        spec
          .given(row.history)
          .when(new PlaceOrder({ ...place, userId: "user-2" }))
          .thenFails(new OrderAlreadyPlaced({ orderId }))
        spec
          .given(row.history)
          .when(new PlaceOrder({ ...place, lines: [lines[1]!, lines[0]!] }))
          .thenFails(new OrderAlreadyPlaced({ orderId }))
      })
    })
  }

  describe("repeats with other details", () => {
    it("refuses MarkOrderPaid on PAID with another payment id", () => {
      spec.given([placed, reserved, paid]).when(pay("pay-2")).thenFails(illegal("PAID", "PAID"))
    })

    it("refuses MarkOrderShipped on SHIPPED with another shipment or tracking number", () => {
      const history = [placed, reserved, paid, shipped]
      spec.given(history).when(ship("ship-2")).thenFails(illegal("SHIPPED", "SHIPPED"))
      spec.given(history).when(ship("ship-1", "TRK2")).thenFails(illegal("SHIPPED", "SHIPPED"))
    })

    it("records nothing on a second cancellation with another reason: the first reason stays", () => {
      spec.given([placed, cancelled]).when(cancel).thenNothing()
    })
  })

  describe("state", () => {
    it("keeps the payment of an order cancelled after payment, for its refund", () => {
      const state = spec
        .given([placed, reserved, paid])
        .when(cancel)
        .then([new OrderCancelled({ orderId, reason: "cancelled_by_user", at: at(9) })])
      assert.deepInclude(state, { _tag: "Cancelled", reason: "cancelled_by_user", paymentId: "pay-1" })
    })

    it("has no payment when cancelled before payment", () => {
      const state = spec
        .given([placed])
        .when(cancel)
        .then([new OrderCancelled({ orderId, reason: "cancelled_by_user", at: at(9) })])
      assert.deepInclude(state, { _tag: "Cancelled", paymentId: null, updatedAt: at(9), placedAt: at(0) })
    })

    it("carries payment, shipment and tracking number once shipped", () => {
      const state = spec
        .given([placed, reserved, paid, shipped])
        .when(deliver)
        .then([new OrderDelivered({ orderId, at: at(9) })])
      assert.deepInclude(state, { _tag: "Delivered", paymentId: "pay-1", shipmentId: "ship-1", trackingNumber: "TRK1" })
    })
  })
})
