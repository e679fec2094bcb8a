/**
 * The saga coordinator: drives each order's fulfilment (SPEC §5) by feeding
 * reports to the order's saga (the `Fulfilment` aggregate, event-sourced in
 * `fulfilment-<orderId>`) and taking the step it then waits on, until it
 * waits on the outside world or is done.
 *
 * Where reports come from:
 * - the global event log, followed under durable checkpoints (one per
 *   partition, below): an order placed or cancelled by its owner, a payment
 *   that succeeded, failed or succeeded late (webhooks and timers act on the
 *   payment's actor; their events come back here);
 * - the saga's own steps (their outcomes);
 * - the shipping inbox (`advance`, called for each new inbound message).
 *
 * Across nodes: the log follower is split by order id into `SAGA_PARTITIONS`
 * partitions (default 4), each with its own checkpoint
 * (`fulfilment-saga/4/0` …) and its own lease, shared out among the
 * processes that run the saga (`Lease.runPartitioned`); the payment deadlines
 * and the saga gauge run in one process at a time, each under its lease.
 * Another node takes over within seconds when a holder dies. A second
 * follower for a moment does no harm (below), so correctness never rests on
 * the leases. A partition with no checkpoint (an upgrade from the single
 * follower `fulfilment-saga`, or a new number of partitions) starts where
 * the earlier split had passed for every order (`startOfNewPartition`).
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
import { EventStore, Lease, type RecordedEvent, Spans } from "@agora/eventstore"
import { Config, ConfigProvider, Context, Duration, Effect, Layer, Schedule, Schema } from "effect"
import { SqlClient } from "effect/sql"
import * as KeyedLanes from "../internal/KeyedLanes.ts"
import { paymentIdOf, shipmentIdOf } from "../Orders.ts"
import * as FulfilmentSteps from "./FulfilmentSteps.ts"
import * as PaymentTimers from "./PaymentTimers.ts"
import * as SagaStates from "./SagaStates.ts"

/** The subscription's name, and the key of its checkpoint (of each partition's: `fulfilment-saga/4/0` …). */
export const subscriptionName = "fulfilment-saga"

/**
 * `SAGA_PARTITIONS` (default 4): the log follower is split by order id into
 * this many partitions, each with its own lease and checkpoint, shared out
 * among the processes that run the saga. 1: one follower, as before.
 */
export const partitionsConfig = Config.Int("SAGA_PARTITIONS").pipe(
  Config.withDefault(4),
  Config.mapEffect((n) =>
    n >= 1 && n <= 256
      ? Effect.succeed(n)
      : Effect.fail(
          new Config.ConfigError(new ConfigProvider.SourceError({ message: "SAGA_PARTITIONS must be 1 to 256" }))
        )
  )
)

/** The partition an order's reports go to: a stable hash of its id (the one partitioned leases use). */
export const partitionOf = (orderId: string, partitions: number): number => Lease.partitionOf(orderId, partitions)

/** The checkpoints (and leases) of the follower split into `partitions`. */
export const checkpointNames = (partitions: number): ReadonlyArray<string> =>
  partitions === 1
    ? [subscriptionName]
    : Array.from({ length: partitions }, (_, partition) => Lease.partitionName(subscriptionName, partitions, partition))

/**
 * The position up to which every partition of the follower split into
 * `partitions` has followed the log (the least of their checkpoints; 0 while
 * one has none): for tests and tools that wait for the saga to catch up.
 */
export const followedUpTo = (partitions: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const names = checkpointNames(partitions)
    const rows = yield* sql<{ readonly position: string | number }>`
      SELECT position FROM subscription_checkpoints WHERE name IN ${sql.in(names)}`
    return rows.length < names.length ? 0 : Math.min(...rows.map((row) => Number(row.position)))
  })

/**
 * Where a partition without a checkpoint of its own starts (its first start,
 * an upgrade from one follower, or a new `SAGA_PARTITIONS`): at the furthest
 * position some earlier split has passed for every order — the least
 * checkpoint of a split whose partitions all have one (the single follower's
 * counts as a split of 1). Earlier is safe (every report is idempotent),
 * later would lose reports; 0 when there is none.
 */
export const startOfNewPartition = (
  checkpoints: ReadonlyArray<{ readonly name: string; readonly position: number }>
) => {
  const splits = new Map<number, Array<number>>()
  for (const { name, position } of checkpoints) {
    if (name === subscriptionName) {
      splits.set(1, [position])
      continue
    }
    const [prefix, of, index, ...rest] = name.split("/")
    if (prefix !== subscriptionName || rest.length > 0 || index === undefined) continue
    const partitions = Number(of)
    if (!Number.isSafeInteger(partitions) || partitions < 1) continue
    const positions = splits.get(partitions) ?? []
    positions.push(position)
    splits.set(partitions, positions)
  }
  let start = 0
  for (const [partitions, positions] of splits) {
    if (positions.length === partitions) start = Math.max(start, Math.min(...positions))
  }
  return start
}

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

/** One partition of the log follower: the orders whose id hashes to `index` of `of`. */
interface Partition {
  readonly index: number
  readonly of: number
}

/** The log's events that may report to the sagas of `partition`'s orders (`reportOf` has the last word). */
const relevantTo =
  (partition: Partition) =>
  (event: RecordedEvent): boolean => {
    if (event.streamType === Order.Order.type) {
      if (event.type !== "OrderPlaced" && event.type !== "OrderCancelled") return false
    } else if (event.streamType === Payment.Payment.type) {
      if (
        event.type !== "PaymentSucceeded" &&
        event.type !== "LatePaymentSucceeded" &&
        event.type !== "PaymentFailed"
      ) {
        return false
      }
    } else return false
    if (partition.of === 1) return true
    const orderId = (event.data as { readonly orderId?: unknown } | null)?.orderId
    // An event without a readable order id goes to `reportOf`, which logs it.
    return typeof orderId !== "string" || partitionOf(orderId, partition.of) === partition.index
  }

/** How many steps one report may lead to (a saga has six); more means a loop, a bug. */
const maxSteps = 12

export const make = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const store = yield* EventStore
  const sql = yield* SqlClient.SqlClient
  const lease = yield* Lease.Lease
  const partitions = yield* partitionsConfig
  const steps = yield* FulfilmentSteps.make

  const unavailable = (cause: unknown) => Effect.fail(new SagaUnavailable({ cause }))

  // One driver per order at a time in this process (the log follower and the inbox may both have news for
  // it): steps are idempotent anyway, but two drivers would take the same step twice for nothing.
  const oneAtATime = KeyedLanes.make()

  const advance = (orderId: string, first: Fulfilment.FulfilmentCommand) =>
    Spans.traced(oneAtATime(orderId, drive(orderId, first)), "Saga.advance", {
      attributes: { correlation_id: orderId, "saga.report": first._tag }
    }).pipe(Effect.annotateLogs("correlation_id", orderId))

  const drive = (orderId: string, first: Fulfilment.FulfilmentCommand) =>
    Effect.gen(function* () {
      let report = first
      // The saga's state after `report`, when the step that made it wrote it already.
      let recorded: Fulfilment.FulfilmentState | undefined
      for (let i = 0; i < maxSteps; i++) {
        const state =
          recorded ??
          (yield* actors
            .send(Fulfilment.Fulfilment, orderId, report, {
              correlationId: orderId,
              // A saga starts with its order, whose id is new: nothing to read unless this report came before.
              expectNew: report._tag === "StartFulfilment"
            })
            .pipe(Effect.catchTags({ ConcurrencyConflict: unavailable, EventStoreError: unavailable }))).state
        const step = Fulfilment.nextStep(state)
        if (step === undefined || state._tag === "NotStarted") return state
        const outcome = yield* Spans.traced(steps.take(step, state), `Saga.${step}`, {
          attributes: { correlation_id: orderId }
        }).pipe(Effect.catch(unavailable))
        report = outcome.report
        recorded = outcome.recorded
        yield* Effect.logInfo(`saga step ${step}: ${report._tag}`).pipe(Effect.annotateLogs("saga_step", step))
      }
      return yield* Effect.die(`fulfilment of ${orderId}: more than ${maxSteps} steps for one report`)
    })

  /**
   * One batch of the log, already only `partition`'s (`relevantTo`): each order's reports in order, orders
   * concurrently.
   */
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

  /** Where a partition starts: its checkpoint, or (none yet) where an earlier split leaves it, saved at once. */
  const startOf = (name: string) =>
    Effect.gen(function* () {
      const rows = yield* sql<{ readonly name: string; readonly position: string | number }>`
        SELECT name, position FROM subscription_checkpoints
        WHERE name = ${subscriptionName} OR name LIKE ${`${subscriptionName}/%`}`
      const checkpoints = rows.map((row) => ({ name: row.name, position: Number(row.position) }))
      const own = checkpoints.find((checkpoint) => checkpoint.name === name)
      if (own !== undefined) return own.position
      const start = startOfNewPartition(checkpoints)
      yield* Effect.logInfo(`fulfilment saga: ${name} has no checkpoint; starting after position ${start}`)
      yield* store.saveCheckpoint(name, start)
      return start
    })

  const follow = (partition: Partition) =>
    Effect.gen(function* () {
      const name = checkpointNames(partition.of)[partition.index]!
      const start = yield* startOf(name)
      // The checkpoint moves after each batch with reports for this partition; past the rest of the log lazily.
      yield* store.follow({ name, from: { after: start }, relevant: relevantTo(partition) }, handleBatch)
    }).pipe(
      Effect.tapCause((cause) => Effect.logError("fulfilment saga failed; restarting", cause)),
      // Any cause, defects too: effect's `withTransaction` ends in a defect, not a failure, when its ROLLBACK fails
      // on a connection the database dropped (a PostgreSQL restart), and `retry` alone would let that end the loop.
      Effect.sandbox,
      Effect.retry(Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced(Duration.seconds(10))])),
      Effect.orDie
    )

  yield* PaymentTimers.migrate.pipe(Effect.provideService(SqlClient.SqlClient, sql))
  // Each under its lease: one process at a time follows each partition of the log, fires deadlines and counts the
  // sagas; the partitions are shared out among the processes.
  yield* Effect.forkScoped(
    partitions === 1
      ? lease.run(subscriptionName, follow({ index: 0, of: 1 }))
      : lease.runPartitioned(subscriptionName, partitions, (index) => follow({ index, of: partitions }))
  )
  yield* Effect.forkScoped(
    lease.run(
      PaymentTimers.leaseName,
      PaymentTimers.run.pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.provideService(ActorRuntime, actors)
      )
    )
  )
  yield* Effect.forkScoped(
    lease.run(
      SagaStates.leaseName,
      SagaStates.report("2 seconds").pipe(Effect.provideService(SqlClient.SqlClient, sql))
    )
  )

  return FulfilmentSaga.of({
    advance: (orderId, report) => advance(orderId, report)
  })
})

/** The coordinator, following the log and firing payment deadlines for the layer's lifetime. */
export const layer = Layer.effect(FulfilmentSaga, make)
