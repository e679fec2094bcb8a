/**
 * The saga's steps as commands to the actors. Each step reads what it needs
 * from the saga's state, sends commands whose ids derive from the order and
 * the step (so a step taken again after a crash appends nothing twice), and
 * returns the report that moves the saga on. Steps that must not be split
 * run as one multi-aggregate transaction (`sendTogether`): the order PAID
 * and its shipment created; shipment, order and stock shipped. Reservation
 * is all or nothing by compensation instead (see `reserve`). Where a step is
 * one transaction, the saga's own transition (its report) is written in it
 * too, and the step hands the runner the saga's state after it (`Outcome`),
 * so the runner does not send that report again.
 *
 * A step that finds the order cancelled meanwhile (its owner got there
 * first) reports that, and the saga compensates. Failures of the stores are
 * errors: the step is taken again later.
 */
import { type ActorError, ActorRuntime, part } from "@agora/actors"
import { Fulfilment, InventoryItem, Money, Order, Payment, PaymentAccount, Shipment } from "@agora/domain"
import { DateTime, Effect, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { PaymentProvider } from "./PaymentProvider.ts"
import * as PaymentTimers from "./PaymentTimers.ts"

type Saga = Fulfilment.Saga
type Report = Fulfilment.FulfilmentCommand

/**
 * What a step did: the report that moves the saga on and, when the step
 * wrote that report into the saga in its own transaction, the saga's state
 * after it (the runner then goes on from it instead of sending the report
 * again: a no-op, but one checked against the saga's stream).
 */
export interface Outcome {
  readonly report: Report
  readonly recorded?: Fulfilment.FulfilmentState
}

const reported = (report: Report): Outcome => ({ report })

/** Store failures stay errors (the step is retried); a domain refusal a step does not expect is a bug. */
const onlyStoreFailures = <A, E extends { readonly _tag: string }, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, Extract<E, ActorError>, R> =>
  Effect.catch(effect, (error) =>
    error._tag === "ConcurrencyConflict" || error._tag === "EventStoreError"
      ? Effect.fail(error as Extract<E, ActorError>)
      : Effect.die(error)
  )

/** 100 ms doubling to 5 s between tries, for about 30 s in all. */
const providerRetry = Schedule.min([Schedule.exponential("100 millis"), Schedule.spaced("5 seconds")]).pipe(
  Schedule.upTo({ duration: "30 seconds" })
)

const context = (saga: Saga, step: string) => ({
  commandId: `fulfilment/${saga.orderId}/${step}`,
  correlationId: saga.orderId
})

export const make = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const provider = yield* PaymentProvider
  const sql = yield* SqlClient.SqlClient
  const timeout = yield* PaymentTimers.timeoutConfig
  // Payment requests still being retried live as long as the saga does, not as long as the step.
  const requests = yield* Effect.scope

  /** The order's cancellation, reported, when a step found the order CANCELLED. */
  const orderCancelled = (saga: Saga, at: DateTime.Utc) =>
    Effect.map(actors.state(Order.Order, saga.orderId), ({ state }): Report => {
      const reason = state._tag === "Cancelled" ? state.reason : "cancelled_by_user"
      return new Fulfilment.ReportOrderCancelled({ orderId: saga.orderId, reason, at })
    })

  /**
   * Every line, all or nothing: each line is reserved by its SKU's actor (so
   * reservations of a popular SKU are batched into one append per mailbox
   * turn, where one transaction over every SKU would serialise all orders on
   * it); if any line cannot be, the saga is told and its compensation releases
   * the lines that were. Then the order is marked RESERVED.
   */
  /**
   * A step's transaction refused: by the order, cancelled meanwhile (reported to the saga); by a store
   * (retried later); anything else is a bug.
   */
  const unlessCancelled =
    (saga: Saga, at: DateTime.Utc) =>
    <E extends { readonly _tag: string }, R>(
      effect: Effect.Effect<Outcome, E, R>
    ): Effect.Effect<Outcome, ActorError, R> =>
      Effect.catch(effect, (error) =>
        error._tag === "IllegalTransition"
          ? Effect.map(orderCancelled(saga, at), reported)
          : error._tag === "ConcurrencyConflict" || error._tag === "EventStoreError"
            ? Effect.fail(error as Extract<E, ActorError>)
            : Effect.die(error)
      )

  const reserve = (saga: Saga, at: DateTime.Utc): Effect.Effect<Outcome, ActorError> =>
    Effect.gen(function* () {
      const { orderId } = saga
      const outcomes = yield* Effect.forEach(
        saga.lines,
        (line) =>
          actors
            // Only whether the line is held: not the SKU's state (every order it holds), which on a cluster would
            // be encoded for the trip back from the SKU's node.
            .sendWithoutState(
              InventoryItem.InventoryItem,
              line.sku,
              new InventoryItem.Reserve({ sku: line.sku, orderId, quantity: line.quantity, at }),
              context(saga, `reserve/${line.sku}`)
            )
            .pipe(
              Effect.as(true),
              Effect.catch((error) =>
                error._tag === "ConcurrencyConflict" || error._tag === "EventStoreError"
                  ? Effect.fail(error)
                  : // Out of stock, an unknown SKU, a quantity that does not fit: this line is not held.
                    Effect.succeed(false)
              )
            ),
        { concurrency: "unbounded" }
      )
      // A line that cannot be held fails the step with no undo of its own: the report is recorded first, then
      // compensation releases what was held. Undoing here, before the report, would make a retry after a crash
      // judge again against a world that changed meanwhile (a restock) and hold a line that was given back.
      if (outcomes.includes(false)) return reported(new Fulfilment.ReportStockUnavailable({ orderId, at }))
      const secured = new Fulfilment.ReportStockSecured({ orderId, at })
      return yield* actors
        .sendTogether(
          [
            part(Order.Order, orderId, new Order.MarkOrderReserved({ orderId, at })),
            part(Fulfilment.Fulfilment, orderId, secured)
          ],
          context(saga, "reserve/order")
        )
        .pipe(
          Effect.map(([, recorded]): Outcome => ({ report: secured, recorded: recorded.state })),
          unlessCancelled(saga, at)
        )
    })

  /** Gives back whatever the order holds of each line (releasing nothing held records nothing). */
  const releaseAll = (saga: Saga, at: DateTime.Utc, step: string) =>
    Effect.forEach(
      saga.lines,
      (line) =>
        actors
          .sendWithoutState(
            InventoryItem.InventoryItem,
            line.sku,
            new InventoryItem.Release({ sku: line.sku, orderId: saga.orderId, at }),
            context(saga, `${step}/${line.sku}`)
          )
          .pipe(
            Effect.catchTag("ProductNotFound", () => Effect.void),
            onlyStoreFailures
          ),
      { concurrency: "unbounded", discard: true }
    )

  const createPayment = (saga: Saga, at: DateTime.Utc) =>
    new Payment.CreatePayment({
      paymentId: saga.paymentId,
      orderId: saga.orderId,
      userId: saga.userId,
      amount: saga.total,
      method: saga.method,
      at
    })

  const payByAccount = (saga: Saga, at: DateTime.Utc): Effect.Effect<Report, ActorError> => {
    const { orderId, paymentId, userId, total } = saga
    const debit = new PaymentAccount.DebitAccount({ userId, txId: paymentId, orderId, amount: total, at })
    const record = (status: "succeeded" | "failed", errorMessage?: string) =>
      actors.send(
        Payment.Payment,
        paymentId,
        new Payment.RecordProviderResult({
          paymentId,
          status,
          amount: total,
          ...(errorMessage === undefined ? {} : { errorMessage }),
          at
        }),
        context(saga, `pay/record-${status}`)
      )
    return actors
      .sendTogether(
        [
          // The payment's id is the order's, derived: new unless this step is taken again.
          part(Payment.Payment, paymentId, createPayment(saga, at), { expectNew: true }),
          part(PaymentAccount.PaymentAccount, userId, debit)
        ],
        context(saga, "pay/debit")
      )
      .pipe(
        Effect.andThen(record("succeeded")),
        Effect.as<Report>(new Fulfilment.ReportPaymentCaptured({ orderId, at })),
        Effect.catch((error) => {
          if (error._tag !== "InsufficientFunds" && error._tag !== "AccountNotFound") return Effect.fail(error)
          // Nothing was written (payment and debit are one transaction): the saga is told first; compensation
          // then records the failed payment. A retry after a crash before the report may find money topped up
          // meanwhile and pay: either outcome is whole.
          return Effect.succeed<Report>(
            new Fulfilment.ReportPaymentFailed({ orderId, reason: "insufficient_funds", at })
          )
        }),
        Effect.catchTag("ConcurrencyConflict", Effect.fail),
        Effect.catchTag("EventStoreError", Effect.fail),
        // Any other refusal (a payment with other contents under this id) is a bug: surfaced as a defect.
        Effect.catch((error) => Effect.die(error))
      )
  }

  const payByCard = (saga: Saga, at: DateTime.Utc) =>
    Effect.gen(function* () {
      const { orderId, paymentId } = saga
      yield* actors
        .send(Payment.Payment, paymentId, createPayment(saga, at), { ...context(saga, "pay/create"), expectNew: true })
        .pipe(onlyStoreFailures)
      yield* PaymentTimers.schedule(paymentId, orderId, DateTime.addDuration(at, timeout)).pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.orDie
      )
      // Unreachable provider: logged; the deadline fails the payment if it never answers.
      yield* provider
        .request({
          paymentId,
          orderId,
          amount: Money.toDecimalString(saga.total),
          currency: saga.currency,
          cardToken: saga.cardToken ?? ""
        })
        .pipe(
          // In the background, so an unreachable provider holds up no other order: a provider that is starting
          // (the built-in one, while this process boots) or briefly down gets the request within about 30 s;
          // the request is idempotent by payment id, and the deadline fails the payment if it never answers.
          Effect.retry(providerRetry),
          Effect.catch((error) => Effect.logWarning(`payment ${paymentId}: the provider refused the request`, error)),
          Effect.forkIn(requests)
        )
      return new Fulfilment.ReportPaymentRequested({ orderId, at }) as Report
    })

  const requestShipment = (saga: Saga, at: DateTime.Utc): Effect.Effect<Outcome, ActorError> => {
    const { orderId, paymentId, shipmentId } = saga
    const requested = new Fulfilment.ReportShipmentRequested({ orderId, at })
    return actors
      .sendTogether(
        [
          part(Order.Order, orderId, new Order.MarkOrderPaid({ orderId, paymentId, at })),
          part(
            Shipment.Shipment,
            shipmentId,
            new Shipment.CreateShipment({ shipmentId, orderId, items: saga.lines, at }),
            { expectNew: true }
          ),
          part(Fulfilment.Fulfilment, orderId, requested)
        ],
        context(saga, "request-shipment")
      )
      .pipe(
        Effect.map(([, , recorded]): Outcome => ({ report: requested, recorded: recorded.state })),
        unlessCancelled(saga, at)
      )
  }

  const recordShipment = (saga: Saga, at: DateTime.Utc): Effect.Effect<Outcome, ActorError> => {
    const { orderId, shipmentId } = saga
    const recorded = new Fulfilment.ReportShipmentRecorded({ orderId, at })
    const trackingNumber = saga.trackingNumber ?? ""
    return actors
      .sendTogether(
        [
          part(Shipment.Shipment, shipmentId, new Shipment.MarkShipmentShipped({ shipmentId, trackingNumber, at })),
          part(Order.Order, orderId, new Order.MarkOrderShipped({ orderId, shipmentId, trackingNumber, at })),
          ...saga.lines.map((line) =>
            part(
              InventoryItem.InventoryItem,
              line.sku,
              new InventoryItem.CommitShipment({ sku: line.sku, orderId, at })
            )
          ),
          part(Fulfilment.Fulfilment, orderId, recorded)
        ],
        context(saga, "record-shipment")
      )
      .pipe(
        Effect.map(
          (results): Outcome => ({ report: recorded, recorded: results.at(-1)?.state as Fulfilment.FulfilmentState })
        ),
        unlessCancelled(saga, at)
      )
  }

  /** Gives the money back: the account's debit, and the payment marked refunded. */
  const refund = (saga: Saga, at: DateTime.Utc) =>
    Effect.gen(function* () {
      const { orderId, paymentId, userId } = saga
      if (saga.method === "account") {
        yield* actors
          .send(
            PaymentAccount.PaymentAccount,
            userId,
            new PaymentAccount.RefundDebit({ userId, txId: `${paymentId}/refund`, orderId, at }),
            context(saga, "refund/account")
          )
          .pipe(Effect.catchTag("NothingToRefund", () => Effect.void))
      }
      yield* actors
        .send(Payment.Payment, paymentId, new Payment.MarkPaymentRefunded({ paymentId, at }), context(saga, "refund"))
        .pipe(Effect.catchTags({ PaymentNotRefundable: () => Effect.void, PaymentNotFound: () => Effect.void }))
    })

  const compensate = (saga: Saga, at: DateTime.Utc): Effect.Effect<Report, ActorError> =>
    Effect.gen(function* () {
      const { orderId, paymentId, shipmentId } = saga
      const reason = saga.cancelReason ?? "cancelled_by_user"
      // The payment: failed if still pending, refunded if the money was taken (perhaps just now).
      const payment = (yield* actors.state(Payment.Payment, paymentId)).state
      if (payment._tag === "Pending") {
        const failed = yield* actors
          .send(
            Payment.Payment,
            paymentId,
            new Payment.FailPayment({ paymentId, reason: reason === "payment_timeout" ? "timeout" : "cancelled", at }),
            context(saga, "compensate/fail-payment")
          )
          .pipe(
            Effect.as(true),
            Effect.catchTag("PaymentAlreadySucceeded", () => Effect.succeed(false)),
            Effect.catchTag("PaymentNotFound", () => Effect.succeed(true))
          )
        if (!failed) yield* refund(saga, at)
      } else if (payment._tag === "Succeeded") {
        yield* refund(saga, at)
      } else if (payment._tag === "NoPayment" && reason === "insufficient_funds") {
        // The payment that could not be taken, recorded as failed for the owner to see why.
        yield* actors
          .send(Payment.Payment, paymentId, createPayment(saga, at), context(saga, "compensate/create-payment"))
          .pipe(onlyStoreFailures)
        yield* actors
          .send(
            Payment.Payment,
            paymentId,
            new Payment.RecordProviderResult({
              paymentId,
              status: "failed",
              amount: saga.total,
              errorMessage: "insufficient funds in the payment account",
              at
            }),
            context(saga, "compensate/payment-failed")
          )
          .pipe(onlyStoreFailures)
      }
      // Held stock goes back (releasing what is not held records nothing).
      yield* releaseAll(saga, at, "compensate/release")
      if (saga.shipmentCreated) {
        yield* actors
          .send(
            Shipment.Shipment,
            shipmentId,
            new Shipment.CancelShipment({ shipmentId, reason, at }),
            context(saga, "compensate/cancel-shipment")
          )
          .pipe(Effect.catchTags({ ShipmentNotFound: () => Effect.void, IllegalShipmentTransition: () => Effect.void }))
      }
      yield* actors
        .send(Order.Order, orderId, new Order.CancelOrder({ orderId, reason, at }), context(saga, "compensate/cancel"))
        .pipe(
          Effect.catchTag("IllegalTransition", (e) => Effect.logError("compensation: the order cannot be cancelled", e))
        )
      return new Fulfilment.ReportCompensated({ orderId, at }) as Report
    }).pipe(
      Effect.catch((error) =>
        error._tag === "ConcurrencyConflict" || error._tag === "EventStoreError"
          ? Effect.fail(error)
          : Effect.die(error)
      )
    )

  const refundLatePayment = (saga: Saga, at: DateTime.Utc): Effect.Effect<Report, ActorError> =>
    refund(saga, at).pipe(
      Effect.as<Report>(new Fulfilment.ReportLateRefund({ orderId: saga.orderId, at })),
      Effect.catch((error) =>
        error._tag === "ConcurrencyConflict" || error._tag === "EventStoreError"
          ? Effect.fail(error)
          : Effect.die(error)
      )
    )

  /** Takes one step of the saga and reports its outcome. */
  const take = (step: Fulfilment.Step, saga: Saga): Effect.Effect<Outcome, ActorError> =>
    Effect.flatMap(DateTime.now, (at) => {
      switch (step) {
        case "reserve":
          return reserve(saga, at)
        case "pay":
          return Effect.map(saga.method === "account" ? payByAccount(saga, at) : payByCard(saga, at), reported)
        case "request_shipment":
          return requestShipment(saga, at)
        case "record_shipment":
          return recordShipment(saga, at)
        case "compensate":
          return Effect.map(compensate(saga, at), reported)
        case "refund_late_payment":
          return Effect.map(refundLatePayment(saga, at), reported)
      }
    })

  return { take }
})
