/**
 * The saga's decider over any sequence of reports — repeated, reordered, too
 * late: it only moves forward, a shipped saga is never cancelled and a
 * cancelled one never ships, every cancellation has a SPEC §5 reason, money
 * is captured only while paying, and `nextStep` always names the step the
 * stage needs (none while waiting on the outside world or when done).
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import {
  Fulfilment,
  type FulfilmentCommand,
  type FulfilmentEvent,
  type FulfilmentState,
  nextStep,
  ReportCarrierCancelled,
  ReportCarrierShipped,
  ReportCompensated,
  ReportLatePayment,
  ReportLateRefund,
  ReportOrderCancelled,
  ReportPaymentCaptured,
  ReportPaymentFailed,
  ReportPaymentRequested,
  ReportShipmentRecorded,
  ReportShipmentRequested,
  ReportStockSecured,
  ReportStockUnavailable,
  type Stage,
  StartFulfilment
} from "../../src/fulfilment/index.ts"
import * as Money from "../../src/Money.ts"
import { arbitraryAt, checkAggregate, sequences } from "../Properties.ts"

const orderId = "order-1"
const start = (method: "account" | "card") =>
  arbitraryAt.map(
    (at) =>
      new StartFulfilment({
        orderId,
        userId: "user-1",
        lines: [{ sku: "A", quantity: 2 }],
        total: Money.make(500),
        currency: "RUB",
        method,
        cardToken: method === "card" ? "tok_ok" : null,
        paymentId: "pay-1",
        shipmentId: "ship-1",
        at
      })
  )

const report: fc.Arbitrary<FulfilmentCommand> = fc.oneof(
  ...[
    ReportStockSecured,
    ReportStockUnavailable,
    ReportPaymentRequested,
    ReportPaymentCaptured,
    ReportShipmentRequested,
    ReportCarrierCancelled,
    ReportShipmentRecorded,
    ReportCompensated,
    ReportLatePayment,
    ReportLateRefund
  ].map((Report) => arbitraryAt.map((at) => new Report({ orderId, at }) as FulfilmentCommand)),
  fc
    .record({ at: arbitraryAt, reason: fc.constantFrom("payment_declined", "insufficient_funds", "payment_timeout") })
    .map((r) => new ReportPaymentFailed({ orderId, ...r })),
  arbitraryAt.map((at) => new ReportCarrierShipped({ orderId, trackingNumber: "TRK", at })),
  fc
    .record({ at: arbitraryAt, reason: fc.constantFrom("cancelled_by_user", "cancelled_by_admin") })
    .map((r) => new ReportOrderCancelled({ orderId, ...r }))
)

const order: ReadonlyArray<Stage> = [
  "reserving",
  "paying",
  "awaiting_payment",
  "requesting_shipment",
  "awaiting_shipment",
  "recording_shipment",
  "shipped"
]

const invariant = (state: FulfilmentState, events: ReadonlyArray<FulfilmentEvent>) => {
  if (state._tag !== "Saga") return assert.fail("events before the saga started")
  const stages = events.flatMap((e) => (e._tag === "FulfilmentStarted" ? [] : [e._tag]))
  const cancelledAt = stages.indexOf("CancellationStarted")
  // Never both: shipped and cancelled.
  assert.isFalse(stages.includes("FulfilmentShipped") && cancelledAt !== -1)
  // Forward only along the happy path, until a cancellation.
  if (cancelledAt === -1 && state.stage !== "cancelling" && state.stage !== "cancelled") {
    const seen = events.map((e) => e._tag)
    assert.deepStrictEqual(seen, [...new Set(seen)], "each transition once")
    assert.include(order, state.stage)
  }
  if (state.stage === "cancelling" || state.stage === "cancelled") {
    assert.isNotNull(state.cancelReason)
    assert.strictEqual(stages.filter((s) => s === "CancellationStarted").length, 1, "one cancellation")
  }
  if (state.stage === "shipped") assert.isNotNull(state.trackingNumber)
  // A late payment is only ever owed after the saga gave up.
  if (state.lateRefundDue) assert.strictEqual(state.stage, "cancelled")
  const step = nextStep(state)
  const expected: Partial<Record<Stage, string>> = {
    reserving: "reserve",
    paying: "pay",
    requesting_shipment: "request_shipment",
    recording_shipment: "record_shipment",
    cancelling: "compensate"
  }
  if (state.stage === "cancelled") assert.strictEqual(step, state.lateRefundDue ? "refund_late_payment" : undefined)
  else assert.strictEqual(step, expected[state.stage])
}

describe("Fulfilment properties", () => {
  for (const method of ["account", "card"] as const) {
    it(`moves forward only, ends shipped or cancelled with a reason, over any ${method} report sequence`, () => {
      checkAggregate(
        Fulfilment,
        fc.tuple(start(method), sequences(report)).map(([first, rest]) => [first, ...rest]),
        { invariant, idempotent: () => true }
      )
    })
  }

  it("ignores a carrier's answer before the shipment was requested (it answers no order.paid of this saga)", () => {
    const at = fc.sample(arbitraryAt, 1)[0]!
    let state = Fulfilment.initialState
    for (const command of [
      fc.sample(start("account"), 1)[0]!,
      new ReportStockSecured({ orderId, at }),
      new ReportPaymentCaptured({ orderId, at })
    ]) {
      const decided = Fulfilment.decide(command, state)
      if (decided._tag === "Failure") return assert.fail("refused")
      for (const event of decided.success) state = Fulfilment.evolve(state, event)
    }
    assert.strictEqual(state._tag === "Saga" ? state.stage : undefined, "requesting_shipment")
    const early = Fulfilment.decide(new ReportCarrierShipped({ orderId, trackingNumber: "T", at }), state)
    assert.deepStrictEqual(early._tag === "Success" ? early.success : "refused", [])
    assert.strictEqual(nextStep(state), "request_shipment")
  })

  it("a late payment is refunded once, however often it is reported", () => {
    const at = fc.sample(arbitraryAt, 1)[0]!
    let state = Fulfilment.initialState
    const events: Array<string> = []
    for (const command of [
      fc.sample(start("card"), 1)[0]!,
      new ReportStockSecured({ orderId, at }),
      new ReportPaymentRequested({ orderId, at }),
      new ReportPaymentFailed({ orderId, reason: "payment_timeout", at }),
      new ReportCompensated({ orderId, at }),
      new ReportLatePayment({ orderId, at }),
      new ReportLateRefund({ orderId, at }),
      new ReportLatePayment({ orderId, at }),
      new ReportLateRefund({ orderId, at })
    ]) {
      const decided = Fulfilment.decide(command, state)
      if (decided._tag === "Failure") return assert.fail("refused")
      for (const event of decided.success) {
        events.push(event._tag)
        state = Fulfilment.evolve(state, event)
      }
    }
    assert.strictEqual(events.filter((e) => e === "LatePaymentReceived").length, 1)
    assert.strictEqual(events.filter((e) => e === "LatePaymentRefunded").length, 1)
    assert.strictEqual(nextStep(state), undefined)
  })

  it("reports about an order whose saga never started are refused", () => {
    const refused = Fulfilment.decide(new ReportStockSecured({ orderId, at: fc.sample(arbitraryAt, 1)[0]! }), {
      _tag: "NotStarted"
    })
    assert.strictEqual(refused._tag, "Failure")
  })
})
