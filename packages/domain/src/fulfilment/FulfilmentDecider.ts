/**
 * The order-fulfilment saga of SPEC §5 as a decider. Its input is what
 * happened (the order was placed, a step succeeded or failed, a webhook, the
 * shipping service, the owner cancelled); its events are its transitions;
 * `nextStep` reads, from the state alone, the step still to take. A runner
 * takes that step with commands whose ids derive from the order and the step,
 * so taking it twice (after a crash) has one effect, and reports the outcome
 * back here. A report that does not move the saga (a repeat, or news that
 * came too late to matter) records nothing.
 *
 * Compensation is one step, `compensate`, driven by what the state says was
 * done: release held stock, fail or refund the payment, cancel the shipment,
 * cancel the order.
 */
import type { Aggregate } from "../Decider.ts"
import { accept, type Decision, ignore, reject } from "../Decision.ts"
import type { CancelReason } from "../order/OrderEvents.ts"
import { FulfilmentCommand } from "./FulfilmentCommands.ts"
import { FulfilmentError, FulfilmentNotFound } from "./FulfilmentErrors.ts"
import {
  CancellationStarted,
  CarrierShipped,
  FulfilmentCancelled,
  FulfilmentEvent,
  FulfilmentShipped,
  FulfilmentStarted,
  LatePaymentReceived,
  LatePaymentRefunded,
  PaymentCaptured,
  PaymentRequested,
  ShipmentRequested,
  StockSecured
} from "./FulfilmentEvents.ts"
import { FulfilmentState, initialState, type Saga, type Stage } from "./FulfilmentState.ts"

/** The stages in which the order can still be cancelled (SPEC §3: any state before SHIPPED). */
const cancellable: ReadonlySet<Stage> = new Set([
  "reserving",
  "paying",
  "awaiting_payment",
  "requesting_shipment",
  "awaiting_shipment",
  "recording_shipment"
])

const when = <E>(condition: boolean, event: () => E): Decision<E, never> => (condition ? accept(event()) : ignore)

export const decide = (
  command: FulfilmentCommand,
  state: FulfilmentState
): Decision<FulfilmentEvent, FulfilmentError> => {
  if (command._tag === "StartFulfilment") {
    if (state._tag === "Saga") return ignore
    const { _tag, ...fields } = command
    return accept(new FulfilmentStarted(fields))
  }
  if (state._tag === "NotStarted") return reject(new FulfilmentNotFound({ orderId: command.orderId }))
  const { orderId, at } = command
  const cancel = (reason: CancelReason) => new CancellationStarted({ orderId, reason, at })
  switch (command._tag) {
    case "ReportStockSecured":
      return when(state.stage === "reserving", () => new StockSecured({ orderId, at }))
    case "ReportStockUnavailable":
      return when(state.stage === "reserving", () => cancel("out_of_stock"))
    case "ReportPaymentRequested":
      return when(state.stage === "paying", () => new PaymentRequested({ orderId, at }))
    case "ReportPaymentCaptured":
      return when(
        state.stage === "paying" || state.stage === "awaiting_payment",
        () => new PaymentCaptured({ orderId, at })
      )
    case "ReportPaymentFailed":
      return when(state.stage === "paying" || state.stage === "awaiting_payment", () => cancel(command.reason))
    case "ReportShipmentRequested":
      return when(state.stage === "requesting_shipment", () => new ShipmentRequested({ orderId, at }))
    // Only while waiting for it: the shipment request and the saga's record of it commit together, so a
    // genuine answer always finds `awaiting_shipment`; anything else answers no `order.paid` of this saga.
    case "ReportCarrierShipped":
      return when(
        state.stage === "awaiting_shipment",
        () => new CarrierShipped({ orderId, trackingNumber: command.trackingNumber, at })
      )
    case "ReportCarrierCancelled":
      return when(state.stage === "awaiting_shipment", () => cancel("shipping_cancelled"))
    case "ReportShipmentRecorded":
      return when(state.stage === "recording_shipment", () => new FulfilmentShipped({ orderId, at }))
    case "ReportOrderCancelled":
      return when(cancellable.has(state.stage), () => cancel(command.reason))
    case "ReportCompensated":
      return when(state.stage === "cancelling", () => new FulfilmentCancelled({ orderId, at }))
    case "ReportLatePayment":
      // Only once the saga gave up on the payment; before that, compensation refunds what it finds captured.
      // Once: a late payment already refunded, read again from the log after a crash, is the same payment.
      return when(
        state.stage === "cancelled" && !state.captured && !state.lateRefundDue && !state.lateRefunded,
        () => new LatePaymentReceived({ orderId, at })
      )
    case "ReportLateRefund":
      return when(state.lateRefundDue, () => new LatePaymentRefunded({ orderId, at }))
  }
}

export const evolve = (state: FulfilmentState, event: FulfilmentEvent): FulfilmentState => {
  if (event._tag === "FulfilmentStarted") {
    if (state._tag === "Saga") return state
    const { _tag, at, ...details } = event
    return {
      _tag: "Saga",
      ...details,
      stage: "reserving",
      reserved: false,
      paymentRequested: false,
      captured: false,
      shipmentCreated: false,
      trackingNumber: null,
      cancelReason: null,
      lateRefundDue: false,
      lateRefunded: false
    }
  }
  if (state._tag === "NotStarted") return state
  const to = (stage: Stage, changes: Partial<Saga> = {}): Saga => ({ ...state, ...changes, stage })
  switch (event._tag) {
    case "StockSecured":
      return to("paying", { reserved: true })
    case "PaymentRequested":
      return to("awaiting_payment", { paymentRequested: true })
    case "PaymentCaptured":
      return to("requesting_shipment", { paymentRequested: true, captured: true })
    case "ShipmentRequested":
      return to("awaiting_shipment", { shipmentCreated: true })
    case "CarrierShipped":
      return to("recording_shipment", { shipmentCreated: true, trackingNumber: event.trackingNumber })
    case "FulfilmentShipped":
      return to("shipped", { reserved: false })
    case "CancellationStarted":
      // Cancelled by the shipping service: the shipment exists even if the saga had not recorded it yet.
      return to("cancelling", {
        cancelReason: event.reason,
        ...(event.reason === "shipping_cancelled" ? { shipmentCreated: true } : {})
      })
    case "FulfilmentCancelled":
      return to("cancelled", { reserved: false, captured: false })
    case "LatePaymentReceived":
      return { ...state, lateRefundDue: true }
    case "LatePaymentRefunded":
      return { ...state, lateRefundDue: false, lateRefunded: true }
  }
}

/** A step the runner has to take for the saga to move on. */
export type Step = "reserve" | "pay" | "request_shipment" | "record_shipment" | "compensate" | "refund_late_payment"

/** The step the saga waits on, if any (none while it waits for the outside world, or when it is done). */
export const nextStep = (state: FulfilmentState): Step | undefined => {
  if (state._tag === "NotStarted") return undefined
  switch (state.stage) {
    case "reserving":
      return "reserve"
    case "paying":
      return "pay"
    case "requesting_shipment":
      return "request_shipment"
    case "recording_shipment":
      return "record_shipment"
    case "cancelling":
      return "compensate"
    case "cancelled":
      return state.lateRefundDue ? "refund_late_payment" : undefined
    case "awaiting_payment":
    case "awaiting_shipment":
    case "shipped":
      return undefined
  }
}

/** The saga aggregate: streams `fulfilment-<orderId>`. */
export const Fulfilment: Aggregate<FulfilmentCommand, FulfilmentEvent, FulfilmentState, FulfilmentError> = {
  type: "fulfilment",
  initialState,
  decide,
  evolve,
  commandSchema: FulfilmentCommand,
  errorSchema: FulfilmentError,
  eventSchema: FulfilmentEvent,
  stateSchema: FulfilmentState,
  // 2: `lateRefunded`.
  stateVersion: 2
}
