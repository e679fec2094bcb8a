/**
 * The saga coordinator: drives each order's fulfilment (SPEC §5) by feeding
 * reports to the order's saga (the `Fulfilment` aggregate, event-sourced in
 * `fulfilment-<orderId>`) and taking the step it then waits on, until it
 * waits on the outside world or is done.
 *
 * Where reports come from:
 * - the global event log, followed under the durable checkpoint
 *   `fulfilment-saga`: an order placed or cancelled by its owner, a payment
 *   that succeeded, failed or succeeded late (webhooks and timers act on the
 *   payment's actor; their events come back here);
 * - the saga's own steps (their outcomes);
 * - the shipping inbox (`advance`, called for each new inbound message).
 *
 * Crash safety: the checkpoint moves only after a batch's sagas have taken
 * every step they could, and every report and step is idempotent, so after a
 * kill -9 the batch is handled again with no step lost or doubled. Orders are
 * handled concurrently, each order's reports in log order.
 *
 * Observability: the logs of driving a saga carry its order id as
 * `correlation_id` (and the event that caused the report as `causation_id`),
 * each step taken is logged and, when tracing, spanned as `Saga.<step>` (in
 * a span `Saga.advance` per report); the
 * sagas by stage are the gauge `agora_saga_states` (`SagaStates.ts`).
 */
import { ActorRuntime } from "@agora/actors"
import { Fulfilment, Order, Payment } from "@agora/domain"
import { EventStore, type RecordedEvent, Spans } from "@agora/eventstore"
import { Context, Duration, Effect, Layer, Schedule, Schema, Semaphore, Stream } from "effect"
import { SqlClient } from "effect/sql"
import { paymentIdOf, shipmentIdOf } from "../Orders.ts"
import * as FulfilmentSteps from "./FulfilmentSteps.ts"
import * as PaymentTimers from "./PaymentTimers.ts"
import * as SagaStates from "./SagaStates.ts"

/** The subscription's name, and the key of its checkpoint. */
export const subscriptionName = "fulfilment-saga"

/** A store failure while driving a saga: the report is handled again later. */
export class SagaUnavailable extends Schema.TaggedError<SagaUnavailable>()("SagaUnavailable", {
  cause: Schema.Defect()
}) {}

export class FulfilmentSaga extends Context.Service<
  FulfilmentSaga,
  {
    /**
     * Feeds a report to an order's saga and takes its steps as far as they go.
     * `FulfilmentNotFound` when the order has no saga (not an order of ours).
     */
    readonly advance: (
      orderId: string,
      report: Fulfilment.FulfilmentCommand
    ) => Effect.Effect<Fulfilment.FulfilmentState, Fulfilment.FulfilmentNotFound | SagaUnavailable>
  }
>()("@agora/app/FulfilmentSaga") {}

const decodeOrderEvent = Schema.decodeUnknownEffect(Order.OrderEvent)
const decodePaymentEvent = Schema.decodeUnknownEffect(Payment.PaymentEvent)

/** The report an event of the log makes to its order's saga, if any. */
export const reportOf = (
  recorded: RecordedEvent
): Effect.Effect<{ readonly orderId: string; readonly report: Fulfilment.FulfilmentCommand } | undefined> =>
  Effect.gen(function* () {
    const data = { ...(recorded.data as object), _tag: recorded.type }
    if (recorded.streamType === Order.Order.type) {
      if (recorded.type !== "OrderPlaced" && recorded.type !== "OrderCancelled") return undefined
      const event = yield* decodeOrderEvent(data)
      if (event._tag === "OrderPlaced") {
        const { orderId, userId, lines, total, currency, paymentMethod, at } = event
        return {
          orderId,
          report: new Fulfilment.StartFulfilment({
            orderId,
            userId,
            lines: lines.map(({ sku, quantity }) => ({ sku, quantity })),
            total,
            currency,
            method: paymentMethod,
            cardToken: event.cardToken ?? null,
            paymentId: paymentIdOf(orderId),
            shipmentId: shipmentIdOf(orderId),
            at
          })
        }
      }
      if (event._tag === "OrderCancelled") {
        const { orderId, reason, at } = event
        return { orderId, report: new Fulfilment.ReportOrderCancelled({ orderId, reason, at }) }
      }
      return undefined
    }
    if (recorded.streamType === Payment.Payment.type) {
      const event = yield* decodePaymentEvent(data)
      const { orderId, at } = event
      switch (event._tag) {
        case "PaymentSucceeded":
          return { orderId, report: new Fulfilment.ReportPaymentCaptured({ orderId, at }) }
        case "LatePaymentSucceeded":
          return { orderId, report: new Fulfilment.ReportLatePayment({ orderId, at }) }
        case "PaymentFailed":
          if (event.reason === "cancelled") return undefined // the saga's own doing
          return {
            orderId,
            report: new Fulfilment.ReportPaymentFailed({
              orderId,
              reason: event.reason === "timeout" ? "payment_timeout" : "payment_declined",
              at
            })
          }
        default:
          return undefined
      }
    }
    return undefined
  }).pipe(
    // An event this code cannot read is not the saga's to act on: logged, skipped.
    Effect.catch((cause) =>
      Effect.as(Effect.logError(`fulfilment saga: cannot read the event at ${recorded.position}`, cause), undefined)
    )
  )

/** How many steps one report may lead to (a saga has six); more means a loop, a bug. */
const maxSteps = 12

export const make = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const store = yield* EventStore
  const sql = yield* SqlClient.SqlClient
  const steps = yield* FulfilmentSteps.make

  const unavailable = (cause: unknown) => Effect.fail(new SagaUnavailable({ cause }))

  // One driver per order at a time in this process (the log follower and the inbox may both have news for
  // it): steps are idempotent anyway, but two drivers would take the same step twice for nothing.
  const drivers = new Map<string, { readonly lock: Semaphore.Semaphore; users: number }>()
  const oneAtATime = <A, E>(orderId: string, effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      let driver = drivers.get(orderId)
      if (driver === undefined) {
        driver = { lock: Semaphore.makeUnsafe(1), users: 0 }
        drivers.set(orderId, driver)
      }
      const held = driver
      held.users++
      return Semaphore.withPermit(held.lock, effect).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            held.users--
            if (held.users === 0) drivers.delete(orderId)
          })
        )
      )
    })

  const advance = (orderId: string, first: Fulfilment.FulfilmentCommand) =>
    Spans.traced(oneAtATime(orderId, drive(orderId, first)), "Saga.advance", {
      attributes: { correlation_id: orderId, "saga.report": first._tag }
    }).pipe(Effect.annotateLogs("correlation_id", orderId))

  const drive = (orderId: string, first: Fulfilment.FulfilmentCommand) =>
    Effect.gen(function* () {
      let report = first
      for (let i = 0; i < maxSteps; i++) {
        const { state } = yield* actors
          .send(Fulfilment.Fulfilment, orderId, report, { correlationId: orderId })
          .pipe(Effect.catchTags({ ConcurrencyConflict: unavailable, EventStoreError: unavailable }))
        const step = Fulfilment.nextStep(state)
        if (step === undefined || state._tag === "NotStarted") return state
        report = yield* Spans.traced(steps.take(step, state), `Saga.${step}`, {
          attributes: { correlation_id: orderId }
        }).pipe(Effect.catch(unavailable))
        yield* Effect.logInfo(`saga step ${step}: ${report._tag}`).pipe(Effect.annotateLogs("saga_step", step))
      }
      return yield* Effect.die(`fulfilment of ${orderId}: more than ${maxSteps} steps for one report`)
    })

  /** One batch of the log: each order's reports in order, orders concurrently. */
  const handleBatch = (batch: ReadonlyArray<RecordedEvent>) =>
    Effect.gen(function* () {
      const byOrder = new Map<
        string,
        Array<{ readonly report: Fulfilment.FulfilmentCommand; readonly cause: string }>
      >()
      for (const recorded of batch) {
        const found = yield* reportOf(recorded)
        if (found === undefined) continue
        const report = { report: found.report, cause: recorded.eventId }
        const reports = byOrder.get(found.orderId)
        if (reports === undefined) byOrder.set(found.orderId, [report])
        else reports.push(report)
      }
      yield* Effect.forEach(
        byOrder,
        ([orderId, reports]) =>
          Effect.forEach(
            reports,
            ({ report, cause }) =>
              advance(orderId, report).pipe(
                // A report about an order with no saga: nothing to drive.
                Effect.catchTag("FulfilmentNotFound", (e) => Effect.logWarning(e.message)),
                Effect.annotateLogs("causation_id", cause)
              ),
            { discard: true }
          ),
        { concurrency: 512, discard: true }
      )
    })

  const follow = Effect.gen(function* () {
    const start = yield* store.loadCheckpoint(subscriptionName)
    yield* store.subscribe({ name: subscriptionName, from: { after: start } }).pipe(
      Stream.runForEachArray((batch) =>
        Effect.gen(function* () {
          yield* handleBatch(batch)
          const last = batch.at(-1)
          if (last !== undefined) yield* store.saveCheckpoint(subscriptionName, last.position)
        })
      )
    )
  })

  yield* PaymentTimers.migrate.pipe(Effect.provideService(SqlClient.SqlClient, sql))
  yield* Effect.forkScoped(
    follow.pipe(
      Effect.tapCause((cause) => Effect.logError("fulfilment saga failed; restarting", cause)),
      // Any cause, defects too: effect's `withTransaction` ends in a defect, not a failure, when its ROLLBACK fails
      // on a connection the database dropped (a PostgreSQL restart), and `retry` alone would let that end the loop.
      Effect.sandbox,
      Effect.retry(Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced(Duration.seconds(10))])),
      Effect.orDie
    )
  )
  yield* Effect.forkScoped(
    PaymentTimers.run.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.provideService(ActorRuntime, actors))
  )
  yield* Effect.forkScoped(SagaStates.report("2 seconds").pipe(Effect.provideService(SqlClient.SqlClient, sql)))

  return FulfilmentSaga.of({
    advance: (orderId, report) => advance(orderId, report)
  })
})

/** The coordinator, following the log and firing payment deadlines for the layer's lifetime. */
export const layer = Layer.effect(FulfilmentSaga, make)
