import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import * as Money from "../../src/Money.ts"
import {
  CreatePayment,
  FailPayment,
  LatePaymentSucceeded,
  MarkPaymentRefunded,
  Payment,
  type PaymentCommand,
  PaymentCreated,
  type PaymentEvent,
  PaymentFailed,
  PaymentRefunded,
  type PaymentState,
  type PaymentStatus,
  PaymentSucceeded,
  RecordProviderResult,
  statusOf
} from "../../src/payment/index.ts"
import { assertJsonRoundTrip, at } from "../Fixtures.ts"
import { arbitraryAt, checkAggregate, count, sequences } from "../Properties.ts"

const paymentId = "pay-1"
const amount = Money.make(1000)
const anyAmount = fc.oneof({ weight: 5, arbitrary: fc.constant(amount) }, fc.constant(Money.make(999)))

const create = fc
  .record({
    orderId: fc.constantFrom("o1", "o2"),
    amount: fc.oneof({ weight: 9, arbitrary: fc.constant(amount) }, fc.constant(Money.make(0))),
    method: fc.constantFrom("account" as const, "card" as const),
    at: arbitraryAt
  })
  .map((c) => new CreatePayment({ paymentId, userId: "user-1", ...c }))

const command: fc.Arbitrary<PaymentCommand> = fc.oneof(
  { weight: 2, arbitrary: create },
  {
    weight: 4,
    arbitrary: fc
      .record({
        status: fc.constantFrom("succeeded" as const, "failed" as const),
        amount: anyAmount,
        reference: fc.option(fc.constantFrom("ch_1", "ch_2"), { nil: undefined }),
        at: arbitraryAt
      })
      .map(({ reference, ...c }) =>
        reference === undefined
          ? new RecordProviderResult({ paymentId, ...c })
          : new RecordProviderResult({ paymentId, providerReference: reference, ...c })
      )
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ reason: fc.constantFrom("timeout" as const, "cancelled" as const), at: arbitraryAt })
      .map((c) => new FailPayment({ paymentId, ...c }))
  },
  { weight: 2, arbitrary: arbitraryAt.map((at) => new MarkPaymentRefunded({ paymentId, at })) }
)

// The moves a payment may make, per event.
const allowed = (from: PaymentStatus | undefined, event: PaymentEvent, previous: PaymentEvent | undefined): boolean => {
  switch (event._tag) {
    case "PaymentCreated":
      return from === undefined
    case "PaymentSucceeded":
    case "PaymentFailed":
      return from === "pending"
    case "LatePaymentSucceeded":
      return from === "failed" && previous?._tag === "PaymentFailed" && previous.reason !== "declined"
    case "PaymentRefunded":
      return from === "succeeded"
  }
}
const statusAfter = { PaymentCreated: "pending", PaymentSucceeded: "succeeded", PaymentFailed: "failed" } as const

const invariant = (state: PaymentState, events: ReadonlyArray<PaymentEvent>) => {
  if (state._tag === "NoPayment") return assert.fail("events without a payment")
  const last = events.at(-1)!
  const previous = events.at(-2)
  const from =
    previous === undefined
      ? undefined
      : previous._tag === "LatePaymentSucceeded"
        ? "succeeded"
        : previous._tag === "PaymentRefunded"
          ? "refunded"
          : statusAfter[previous._tag]
  assert.isTrue(allowed(from, last, previous), `${from} then ${last._tag}`)
  // One success at most, and money moves only for the payment's own amount.
  assert.isAtMost(
    count(events, (e) => e._tag === "PaymentSucceeded" || e._tag === "LatePaymentSucceeded"),
    1
  )
  if ("amount" in last) assert.strictEqual(last.amount, state.amount)
  assert.isAbove(state.amount, 0)
  if (last._tag === "PaymentRefunded") assert.strictEqual(statusOf(state), "refunded")
}

describe("Payment properties", () => {
  it("settles once, refunds only successes, and folds and round-trips, over any command sequence", () => {
    checkAggregate(
      Payment,
      fc.tuple(create, sequences(command)).map(([first, rest]) => [first, ...rest]),
      { invariant, idempotent: () => true }
    )
  })

  it("round-trips every event and every state through JSON", () => {
    const created = new PaymentCreated({ paymentId, orderId: "o1", userId: "u1", amount, method: "card", at: at(0) })
    const paths: ReadonlyArray<ReadonlyArray<PaymentEvent>> = [
      [
        created,
        new PaymentSucceeded({ paymentId, orderId: "o1", amount, providerReference: "ch_1", at: at(1) }),
        new PaymentRefunded({ paymentId, orderId: "o1", amount, at: at(2) })
      ],
      [
        created,
        new PaymentFailed({ paymentId, orderId: "o1", reason: "timeout", errorMessage: null, at: at(1) }),
        new LatePaymentSucceeded({ paymentId, orderId: "o1", amount, providerReference: null, at: at(2) })
      ],
      [created, new PaymentFailed({ paymentId, orderId: "o1", reason: "declined", errorMessage: "no", at: at(1) })]
    ]
    for (const events of paths) {
      let state = Payment.initialState
      assertJsonRoundTrip(Payment.stateSchema, state)
      for (const event of events) {
        assertJsonRoundTrip(Payment.eventSchema, event)
        state = Payment.evolve(state, event)
        assertJsonRoundTrip(Payment.stateSchema, state)
      }
    }
  })
})
