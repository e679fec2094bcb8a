import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import * as Money from "../../src/Money.ts"
import {
  CancelOrder,
  CancelReason,
  MarkOrderDelivered,
  MarkOrderPaid,
  MarkOrderReserved,
  MarkOrderShipped,
  Order,
  OrderCancelled,
  type OrderCommand,
  OrderDelivered,
  type OrderEvent,
  OrderPaid,
  OrderPlaced,
  OrderReserved,
  OrderShipped,
  type OrderState,
  type OrderStatus,
  PlaceOrder,
  statusOf,
  transitions
} from "../../src/order/index.ts"
import { assertJsonRoundTrip, at } from "../Fixtures.ts"
import { arbitraryAt, checkAggregate, count, sequences } from "../Properties.ts"

const orderId = "order-1"
const line = fc.record({
  sku: fc.constantFrom("A", "B", "C"),
  name: fc.constant("Part"),
  quantity: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 100 }) }, fc.constantFrom(0, 101)),
  unitPrice: fc.integer({ min: 1, max: 10_000 }).map(Money.make)
})
// Mostly valid placements (distinct SKUs, the right total), sometimes not.
const lines = fc.oneof(
  { weight: 4, arbitrary: fc.uniqueArray(line, { minLength: 1, maxLength: 3, selector: (l) => l.sku }) },
  { weight: 1, arbitrary: fc.array(line, { maxLength: 3 }) }
)
const place = fc
  .record({
    lines,
    wrongTotal: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    paymentMethod: fc.constantFrom("account" as const, "card" as const),
    at: arbitraryAt
  })
  .map(({ lines, wrongTotal, ...rest }) => {
    const total = lines.reduce((n, l) => n + l.quantity * l.unitPrice, 0) + (wrongTotal ? 1 : 0)
    const token = rest.paymentMethod === "card" ? { cardToken: "tok_ok" } : {}
    return new PlaceOrder({
      orderId,
      userId: "user-1",
      lines,
      total: Money.make(total),
      currency: "RUB",
      ...token,
      ...rest
    })
  })

const command: fc.Arbitrary<OrderCommand> = fc.oneof(
  { weight: 1, arbitrary: place },
  { weight: 3, arbitrary: arbitraryAt.map((at) => new MarkOrderReserved({ orderId, at })) },
  {
    weight: 3,
    arbitrary: fc
      .record({ paymentId: fc.constantFrom("p1", "p2"), at: arbitraryAt })
      .map((c) => new MarkOrderPaid({ orderId, ...c }))
  },
  {
    weight: 3,
    arbitrary: fc
      .record({ shipmentId: fc.constantFrom("s1", "s2"), trackingNumber: fc.constantFrom("T1", "T2"), at: arbitraryAt })
      .map((c) => new MarkOrderShipped({ orderId, ...c }))
  },
  { weight: 2, arbitrary: arbitraryAt.map((at) => new MarkOrderDelivered({ orderId, at })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ reason: fc.constantFrom(...CancelReason.literals), at: arbitraryAt })
      .map((c) => new CancelOrder({ orderId, ...c }))
  }
)

const statusAfter: { readonly [Tag in OrderEvent["_tag"]]: OrderStatus } = {
  OrderPlaced: "PENDING",
  OrderReserved: "RESERVED",
  OrderPaid: "PAID",
  OrderShipped: "SHIPPED",
  OrderDelivered: "DELIVERED",
  OrderCancelled: "CANCELLED"
}

const invariant = (state: OrderState, events: ReadonlyArray<OrderEvent>) => {
  if (state._tag === "NoOrder") return assert.fail("events without an order")
  // The order only moves along the state machine, starting PENDING.
  const statuses = events.map((e) => statusAfter[e._tag])
  assert.strictEqual(statuses[0], "PENDING")
  const [from, to] = [statuses.at(-2), statuses.at(-1)]
  if (from !== undefined && to !== undefined) assert.include(transitions[from], to, `${from} → ${to}`)
  assert.strictEqual(statusOf(state), to)
  assert.strictEqual(
    count(events, (e) => e._tag === "OrderPlaced"),
    1
  )
  // The lines and total it was placed with never change, and they agree.
  assert.strictEqual(
    state.total,
    state.lines.reduce((n, l) => n + l.quantity * l.unitPrice, 0)
  )
  if (state._tag === "Cancelled")
    assert.strictEqual(
      state.paymentId !== null,
      events.some((e) => e._tag === "OrderPaid")
    )
}

describe("Order properties", () => {
  it("only moves along the state machine, and folds and round-trips, over any command sequence", () => {
    checkAggregate(
      Order,
      fc.tuple(place, sequences(command)).map(([first, rest]) => [first, ...rest]),
      { invariant, idempotent: () => true }
    )
  })

  it("round-trips every event and every state through JSON", () => {
    const placed = new OrderPlaced({
      orderId,
      userId: "user-1",
      lines: [{ sku: "A", name: "Part", quantity: 2, unitPrice: Money.make(150) }],
      total: Money.make(300),
      currency: "RUB",
      paymentMethod: "card",
      at: at(0)
    })
    const paths: ReadonlyArray<ReadonlyArray<OrderEvent>> = [
      [
        placed,
        new OrderReserved({ orderId, at: at(1) }),
        new OrderPaid({ orderId, paymentId: "p1", at: at(2) }),
        new OrderShipped({ orderId, shipmentId: "s1", trackingNumber: "T1", at: at(3) }),
        new OrderDelivered({ orderId, at: at(4) })
      ],
      [placed, new OrderCancelled({ orderId, reason: "payment_timeout", at: at(1) })]
    ]
    for (const events of paths) {
      let state = Order.initialState
      assertJsonRoundTrip(Order.stateSchema, state)
      for (const event of events) {
        assertJsonRoundTrip(Order.eventSchema, event)
        state = Order.evolve(state, event)
        assertJsonRoundTrip(Order.stateSchema, state)
      }
    }
  })
})
