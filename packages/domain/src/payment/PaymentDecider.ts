/**
 * The payment decider. The first result settles a pending payment; any later
 * provider result with the right amount records nothing (webhooks are
 * delivered more than once), except a success after we gave up (timeout or
 * cancellation), recorded as `LatePaymentSucceeded` so it gets refunded. A
 * provider result with another amount is `AmountMismatch`, whatever the
 * status. Creating the same payment again, failing a failed one and refunding
 * a refunded one record nothing.
 */
import type { Aggregate } from "../Decider.ts"
import { accept, type Decision, ignore, reject } from "../Decision.ts"
import { type FailPayment, type MarkPaymentRefunded, PaymentCommand } from "./PaymentCommands.ts"
import {
  AmountMismatch,
  InvalidPaymentAmount,
  PaymentAlreadyExists,
  PaymentAlreadySucceeded,
  PaymentError,
  PaymentNotFound,
  PaymentNotRefundable
} from "./PaymentErrors.ts"
import {
  LatePaymentSucceeded,
  PaymentCreated,
  PaymentEvent,
  PaymentFailed,
  PaymentRefunded,
  PaymentSucceeded
} from "./PaymentEvents.ts"
import { type ExistingPayment, initialState, PaymentState, statusOf } from "./PaymentState.ts"

export const decide = (command: PaymentCommand, state: PaymentState): Decision<PaymentEvent, PaymentError> => {
  if (command._tag === "CreatePayment") {
    const { paymentId, orderId, userId, amount, method, at } = command
    if (state._tag !== "NoPayment") {
      const same =
        state.orderId === orderId && state.userId === userId && state.amount === amount && state.method === method
      return same ? ignore : reject(new PaymentAlreadyExists({ paymentId }))
    }
    if (!(amount > 0)) return reject(new InvalidPaymentAmount({ paymentId, amount }))
    return accept(new PaymentCreated({ paymentId, orderId, userId, amount, method, at }))
  }
  if (state._tag === "NoPayment") return reject(new PaymentNotFound({ paymentId: command.paymentId }))
  const { paymentId, orderId } = state
  switch (command._tag) {
    case "RecordProviderResult": {
      const { amount, at } = command
      if (amount !== state.amount)
        return reject(new AmountMismatch({ paymentId, expected: state.amount, received: amount }))
      const providerReference = command.providerReference ?? null
      if (state._tag === "Pending") {
        return command.status === "succeeded"
          ? accept(new PaymentSucceeded({ paymentId, orderId, amount, providerReference, at }))
          : accept(
              new PaymentFailed({
                paymentId,
                orderId,
                reason: "declined",
                errorMessage: command.errorMessage ?? null,
                at
              })
            )
      }
      const gaveUp = state._tag === "Failed" && state.reason !== "declined"
      return gaveUp && command.status === "succeeded"
        ? accept(new LatePaymentSucceeded({ paymentId, orderId, amount, providerReference, at }))
        : ignore
    }
    case "FailPayment":
      return failPayment(state, command)
    case "MarkPaymentRefunded":
      return markRefunded(state, command)
  }
}

const failPayment = (payment: ExistingPayment, command: FailPayment): Decision<PaymentEvent, PaymentError> => {
  const { paymentId, orderId } = payment
  switch (payment._tag) {
    case "Pending":
      return accept(
        new PaymentFailed({ paymentId, orderId, reason: command.reason, errorMessage: null, at: command.at })
      )
    case "Failed":
      return ignore
    case "Succeeded":
    case "Refunded":
      return reject(new PaymentAlreadySucceeded({ paymentId, status: statusOf(payment) }))
  }
}

const markRefunded = (payment: ExistingPayment, command: MarkPaymentRefunded): Decision<PaymentEvent, PaymentError> => {
  const { paymentId, orderId } = payment
  switch (payment._tag) {
    case "Succeeded":
      return accept(new PaymentRefunded({ paymentId, orderId, amount: payment.amount, at: command.at }))
    case "Refunded":
      return ignore
    case "Pending":
    case "Failed":
      return reject(new PaymentNotRefundable({ paymentId, status: statusOf(payment) }))
  }
}

export const evolve = (state: PaymentState, event: PaymentEvent): PaymentState => {
  if (event._tag === "PaymentCreated") {
    if (state._tag !== "NoPayment") return state
    const { paymentId, orderId, userId, amount, method, at } = event
    return { _tag: "Pending", paymentId, orderId, userId, amount, method, createdAt: at, updatedAt: at }
  }
  if (state._tag === "NoPayment") return state
  const details = detailsOf(state)
  switch (event._tag) {
    case "PaymentSucceeded":
      return {
        ...details,
        _tag: "Succeeded",
        providerReference: event.providerReference,
        late: false,
        updatedAt: event.at
      }
    case "LatePaymentSucceeded":
      return {
        ...details,
        _tag: "Succeeded",
        providerReference: event.providerReference,
        late: true,
        updatedAt: event.at
      }
    case "PaymentFailed":
      return { ...details, _tag: "Failed", reason: event.reason, errorMessage: event.errorMessage, updatedAt: event.at }
    case "PaymentRefunded":
      return {
        ...details,
        _tag: "Refunded",
        providerReference: state._tag === "Succeeded" ? state.providerReference : null,
        updatedAt: event.at
      }
  }
}

const detailsOf = (payment: ExistingPayment) => {
  const { paymentId, orderId, userId, amount, method, createdAt, updatedAt } = payment
  return { paymentId, orderId, userId, amount, method, createdAt, updatedAt }
}

/** The payment aggregate: streams `payment-<paymentId>`. */
export const Payment: Aggregate<PaymentCommand, PaymentEvent, PaymentState, PaymentError> = {
  type: "payment",
  initialState,
  decide,
  evolve,
  commandSchema: PaymentCommand,
  errorSchema: PaymentError,
  eventSchema: PaymentEvent,
  stateSchema: PaymentState,
  stateVersion: 1
}
