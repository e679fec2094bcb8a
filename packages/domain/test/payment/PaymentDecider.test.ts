import { assert, describe, it } from "@effect/vitest"
import * as Money from "../../src/Money.ts"
import {
  AmountMismatch,
  CreatePayment,
  FailPayment,
  InvalidPaymentAmount,
  LatePaymentSucceeded,
  MarkPaymentRefunded,
  Payment,
  PaymentAlreadyExists,
  PaymentAlreadySucceeded,
  PaymentCreated,
  PaymentFailed,
  PaymentNotFound,
  PaymentNotRefundable,
  PaymentRefunded,
  PaymentSucceeded,
  RecordProviderResult,
  statusOf
} from "../../src/payment/index.ts"
import { DeciderSpec } from "../DeciderSpec.ts"
import { at } from "../Fixtures.ts"

const paymentId = "pay-1"
const orderId = "order-1"
const userId = "user-1"
const amount = Money.make(12345)
const create = new CreatePayment({ paymentId, orderId, userId, amount, method: "card", at: at(0) })
const created = new PaymentCreated({ paymentId, orderId, userId, amount, method: "card", at: at(0) })
const succeeded = new PaymentSucceeded({ paymentId, orderId, amount, providerReference: "ch_1", at: at(1) })
const declined = new PaymentFailed({ paymentId, orderId, reason: "declined", errorMessage: "card declined", at: at(1) })
const timedOut = new PaymentFailed({ paymentId, orderId, reason: "timeout", errorMessage: null, at: at(1) })
const refunded = new PaymentRefunded({ paymentId, orderId, amount, at: at(2) })
const success = (received = amount) =>
  new RecordProviderResult({ paymentId, status: "succeeded", amount: received, providerReference: "ch_1", at: at(5) })
const failure = (received = amount) =>
  new RecordProviderResult({ paymentId, status: "failed", amount: received, errorMessage: "card declined", at: at(5) })
const fail = (reason: "timeout" | "cancelled") => new FailPayment({ paymentId, reason, at: at(5) })
const markRefunded = new MarkPaymentRefunded({ paymentId, at: at(5) })
const spec = DeciderSpec.for(Payment)
const status = (state: typeof Payment.initialState) => (state._tag === "NoPayment" ? "none" : statusOf(state))

describe("Payment", () => {
  describe("when not created", () => {
    it("is created pending", () => {
      assert.strictEqual(status(spec.when(create).then([created])), "pending")
    })

    it("refuses an amount that is not positive", () => {
      spec
        .when(new CreatePayment({ ...create, amount: Money.make(0) }))
        .thenFails(new InvalidPaymentAmount({ paymentId, amount: Money.make(0) }))
    })

    it("refuses every other command", () => {
      const notFound = new PaymentNotFound({ paymentId })
      spec.when(success()).thenFails(notFound)
      spec.when(fail("timeout")).thenFails(notFound)
      spec.when(markRefunded).thenFails(notFound)
    })
  })

  describe("when pending", () => {
    it("records nothing when created again identically", () => {
      spec.given([created]).when(create).thenNothing()
    })

    it("refuses the same id with other details", () => {
      spec
        .given([created])
        .when(new CreatePayment({ ...create, amount: Money.make(1) }))
        .thenFails(new PaymentAlreadyExists({ paymentId }))
      spec
        .given([created])
        .when(new CreatePayment({ ...create, method: "account" }))
        .thenFails(new PaymentAlreadyExists({ paymentId }))
    })

    it("succeeds on the provider's success", () => {
      const state = spec
        .given([created])
        .when(success())
        .then([new PaymentSucceeded({ ...succeeded, at: at(5) })])
      assert.strictEqual(status(state), "succeeded")
    })

    it("keeps a missing provider reference as null", () => {
      spec
        .given([created])
        .when(new RecordProviderResult({ paymentId, status: "succeeded", amount, at: at(5) }))
        .then([new PaymentSucceeded({ paymentId, orderId, amount, providerReference: null, at: at(5) })])
    })

    it("fails as declined on the provider's failure, with its message", () => {
      const state = spec
        .given([created])
        .when(failure())
        .then([new PaymentFailed({ ...declined, at: at(5) })])
      assert.strictEqual(status(state), "failed")
    })

    it("refuses a provider result with another amount", () => {
      const mismatch = new AmountMismatch({ paymentId, expected: amount, received: Money.make(12344) })
      spec
        .given([created])
        .when(success(Money.make(12344)))
        .thenFails(mismatch)
      spec
        .given([created])
        .when(failure(Money.make(12344)))
        .thenFails(mismatch)
    })

    it("fails on a timeout or a cancellation", () => {
      spec
        .given([created])
        .when(fail("timeout"))
        .then([new PaymentFailed({ ...timedOut, at: at(5) })])
      spec
        .given([created])
        .when(fail("cancelled"))
        .then([new PaymentFailed({ paymentId, orderId, reason: "cancelled", errorMessage: null, at: at(5) })])
    })

    it("cannot be refunded", () => {
      spec
        .given([created])
        .when(markRefunded)
        .thenFails(new PaymentNotRefundable({ paymentId, status: "pending" }))
    })
  })

  describe("when succeeded", () => {
    const history = [created, succeeded]

    it("records nothing on a duplicate or contradicting provider result", () => {
      spec.given(history).when(success()).thenNothing()
      spec.given(history).when(failure()).thenNothing()
    })

    it("still refuses a provider result with another amount", () => {
      spec
        .given(history)
        .when(success(Money.make(1)))
        .thenFails(new AmountMismatch({ paymentId, expected: amount, received: Money.make(1) }))
    })

    it("is too late to fail: the caller must refund instead", () => {
      spec
        .given(history)
        .when(fail("timeout"))
        .thenFails(new PaymentAlreadySucceeded({ paymentId, status: "succeeded" }))
    })

    it("is refunded", () => {
      const state = spec
        .given(history)
        .when(markRefunded)
        .then([new PaymentRefunded({ ...refunded, at: at(5) })])
      assert.strictEqual(status(state), "refunded")
    })
  })

  describe("when declined by the provider", () => {
    const history = [created, declined]

    it("records nothing on any later result: the provider's first answer stands", () => {
      spec.given(history).when(success()).thenNothing()
      spec.given(history).when(failure()).thenNothing()
    })

    it("records nothing when failed again", () => {
      spec.given(history).when(fail("timeout")).thenNothing()
    })

    it("cannot be refunded", () => {
      spec
        .given(history)
        .when(markRefunded)
        .thenFails(new PaymentNotRefundable({ paymentId, status: "failed" }))
    })
  })

  describe("when given up (timeout or cancellation)", () => {
    const history = [created, timedOut]

    it("records a late success, which makes it succeeded and refundable", () => {
      const state = spec
        .given(history)
        .when(success())
        .then([new LatePaymentSucceeded({ paymentId, orderId, amount, providerReference: "ch_1", at: at(5) })])
      assert.strictEqual(status(state), "succeeded")
      assert.isTrue(state._tag === "Succeeded" && state.late)
    })

    it("records nothing on a late failure or a second give-up", () => {
      spec.given(history).when(failure()).thenNothing()
      spec.given(history).when(fail("cancelled")).thenNothing()
    })

    it("refunds after the late success", () => {
      const late = new LatePaymentSucceeded({ paymentId, orderId, amount, providerReference: "ch_1", at: at(2) })
      spec
        .given([...history, late])
        .when(markRefunded)
        .then([new PaymentRefunded({ paymentId, orderId, amount, at: at(5) })])
    })
  })

  describe("when refunded", () => {
    const history = [created, succeeded, refunded]

    it("records nothing on a second refund or a duplicate provider result", () => {
      spec.given(history).when(markRefunded).thenNothing()
      spec.given(history).when(success()).thenNothing()
    })

    it("cannot fail", () => {
      spec
        .given(history)
        .when(fail("cancelled"))
        .thenFails(new PaymentAlreadySucceeded({ paymentId, status: "refunded" }))
    })
  })
})
