/**
 * The sagas-by-stage gauge reads stages off event types: its table must say
 * what the saga's own `evolve` does, and its tally must count each saga once,
 * at the stage of its last stage-changing event.
 */
import { Fulfilment, Money } from "@agora/domain"
import { assert, describe, it } from "@effect/vitest"
import { DateTime } from "effect"
import * as SagaStates from "../../src/fulfilment/SagaStates.ts"

const at = DateTime.makeUnsafe("2026-03-01T10:00:00.000Z")
const orderId = "o-1"

const started = new Fulfilment.FulfilmentStarted({
  orderId,
  userId: "u-1",
  lines: [{ sku: "SKU-1", quantity: 1 }],
  total: Money.make(1000),
  currency: "EUR",
  method: "account",
  cardToken: null,
  paymentId: "p-1",
  shipmentId: "s-1",
  at
})

/** One event of every type. */
const everyEvent: ReadonlyArray<Fulfilment.FulfilmentEvent> = [
  started,
  new Fulfilment.StockSecured({ orderId, at }),
  new Fulfilment.PaymentRequested({ orderId, at }),
  new Fulfilment.PaymentCaptured({ orderId, at }),
  new Fulfilment.ShipmentRequested({ orderId, at }),
  new Fulfilment.CarrierShipped({ orderId, trackingNumber: "TRK-1", at }),
  new Fulfilment.FulfilmentShipped({ orderId, at }),
  new Fulfilment.CancellationStarted({ orderId, reason: "payment_declined", at }),
  new Fulfilment.FulfilmentCancelled({ orderId, at }),
  new Fulfilment.LatePaymentReceived({ orderId, at }),
  new Fulfilment.LatePaymentRefunded({ orderId, at })
]

describe("SagaStates", () => {
  it("has one event of every type here", () => {
    assert.sameMembers(
      everyEvent.map((event) => event._tag),
      Object.keys(Fulfilment.FulfilmentEvent.cases)
    )
  })

  it("gives each event type the stage evolve leaves a saga in, and none to those that keep it", () => {
    const saga = Fulfilment.evolve(Fulfilment.initialState, started)
    for (const event of everyEvent) {
      // From a saga at another stage, so that an event which keeps the stage is seen to.
      const from = { ...saga, stage: event._tag === "StockSecured" ? "reserving" : "paying" } as Fulfilment.Saga
      const after = Fulfilment.evolve(from, event)
      assert.strictEqual(after._tag, "Saga")
      const expected = after._tag === "Saga" && after.stage !== from.stage ? after.stage : undefined
      assert.strictEqual(
        SagaStates.stageAfter[event._tag],
        event._tag === "FulfilmentStarted" ? "reserving" : expected,
        event._tag
      )
    }
  })

  it("counts each saga once, at its latest stage, finished ones included", () => {
    const tally = SagaStates.makeTally()
    const events: Array<[string, string]> = [
      ["fulfilment-a", "FulfilmentStarted"],
      ["fulfilment-b", "FulfilmentStarted"],
      ["fulfilment-c", "FulfilmentStarted"],
      ["fulfilment-a", "StockSecured"],
      ["fulfilment-b", "CancellationStarted"],
      ["fulfilment-a", "PaymentRequested"],
      ["fulfilment-b", "FulfilmentCancelled"],
      ["fulfilment-b", "LatePaymentReceived"],
      ["fulfilment-a", "PaymentCaptured"],
      ["fulfilment-a", "ShipmentRequested"],
      ["fulfilment-a", "CarrierShipped"],
      ["fulfilment-a", "FulfilmentShipped"]
    ]
    for (const [stream, type] of events) tally.apply(stream, type)
    const counts = tally.counts()
    assert.deepStrictEqual(Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)), {
      reserving: 1,
      shipped: 1,
      cancelled: 1
    })
    assert.strictEqual(
      Object.values(counts).reduce((a, b) => a + b, 0),
      3
    )
  })
})
