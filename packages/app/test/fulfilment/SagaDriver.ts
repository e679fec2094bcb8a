/**
 * Plays a scenario against the real saga: stages its users and SKUs, takes
 * its steps one after the other in the world's current process (crashing it
 * where the scenario says), then plays the outside world's last word — every
 * payment still unanswered reaches its deadline, the provider may answer once
 * more, the shipping service answers every paid order — and waits until the
 * saga is quiet. What each step did is kept in a trace for the failure
 * report, with what the checks need to know of the inputs (the model).
 */
import { randomUUID } from "node:crypto"
import { ActorRuntime } from "@agora/actors"
import { Fulfilment, Money, Payment } from "@agora/domain"
import { Cause, Effect, Exit, Fiber } from "effect"
import { SqlClient } from "effect/sql"
import { Accounts, Catalog, Orders, Payments, PaymentTimers, ShippingInbox } from "../../src/index.ts"
import { describeStep, type OrderPlan, redeliverable, type Scenario, type Step } from "./SagaScenario.ts"
import type { Services, World } from "./SagaWorld.ts"

/** What the scenario did, as the checks need it. */
export interface Outcome {
  readonly userIds: ReadonlyArray<string>
  readonly skuIds: ReadonlyArray<string>
  /** `undefined` for an order whose placement failed. */
  readonly orderIds: Array<string | undefined>
  /** Per user: the initial balance and every top-up that was accepted. */
  readonly toppedUp: Array<number>
  readonly restocked: Array<number>
  readonly ownerCancelled: Set<number>
  /** The card provider's answer, per order, if it was delivered at least once. */
  readonly providerSaid: Map<number, "succeeded" | "failed">
  readonly deadlines: Set<number>
  /** Tracking numbers of the `order.shipped` messages delivered, per order. */
  readonly trackingNumbers: Map<number, Set<string>>
  readonly carrierCancelled: Set<number>
  readonly trace: Array<string>
  /** Inputs the system refused or could not take, where it should have. */
  readonly problems: Array<string>
  crashes: number
  /** Deliveries interrupted by a crash and delivered again. */
  redeliveries: number
  duplicates: number
}

const admin = { userId: "admin", admin: true }
const money = (minor: number) => (minor / 100).toFixed(2)

/** An order's total, as the server prices it. */
export const totalOf = (scenario: Scenario, plan: OrderPlan): number =>
  plan.lines.reduce((sum, line) => sum + line.quantity * scenario.skus[line.sku]!.price, 0)

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : String(error)

export const run = (world: World, scenario: Scenario) =>
  Effect.gen(function* () {
    const outcome: Outcome = {
      userIds: scenario.users.map(() => randomUUID()),
      skuIds: scenario.skus.map(() => `SM-${randomUUID().replaceAll("-", "").slice(0, 12).toUpperCase()}`),
      orderIds: scenario.orders.map(() => undefined),
      toppedUp: scenario.users.map(() => 0),
      restocked: scenario.skus.map(() => 0),
      ownerCancelled: new Set(),
      providerSaid: new Map(),
      deadlines: new Set(),
      trackingNumbers: new Map(),
      carrierCancelled: new Set(),
      trace: [],
      problems: [],
      crashes: 0,
      redeliveries: 0,
      duplicates: 0
    }
    const { trace } = outcome
    const placed = () => outcome.orderIds.filter((id): id is string => id !== undefined)

    /**
     * Delivers until the system takes it, as a webhook sender or a broker does: a crash or a store
     * failure means "again"; `expected` names the refusals that are an answer.
     */
    const deliver = <A, E>(
      label: string,
      effect: Effect.Effect<A, E, Services>,
      expected: ReadonlyArray<string> = []
    ): Effect.Effect<Exit.Exit<A, E>> =>
      Effect.gen(function* () {
        let last: Exit.Exit<A, E> | undefined
        for (let attempt = 0; attempt < 40; attempt++) {
          const { exit, interrupted } = yield* world.run(effect, { redeliver: true })
          outcome.redeliveries += interrupted
          if (Exit.isSuccess(exit)) return exit
          const error = Cause.findErrorOption(exit.cause)
          if (error._tag === "Some" && expected.includes(tagOf(error.value))) return exit
          last = exit
          yield* Effect.sleep("25 millis")
        }
        outcome.problems.push(
          `${label}: never accepted: ${last ? Cause.pretty((last as Exit.Failure<A, E>).cause) : ""}`
        )
        return last!
      })

    const once = <A, E>(label: string, effect: Effect.Effect<A, E, Services>) =>
      Effect.gen(function* () {
        const { exit } = yield* world.run(effect)
        if (Exit.isFailure(exit)) outcome.problems.push(`${label}: failed: ${Cause.pretty(exit.cause)}`)
        return exit
      })

    const settleNow = Effect.suspend(() => world.settle(placed()))

    const paymentState = (orderId: string) =>
      world
        .run(Effect.flatMap(ActorRuntime, (actors) => actors.state(Payment.Payment, Orders.paymentIdOf(orderId))))
        .pipe(Effect.map(({ exit }) => (Exit.isSuccess(exit) ? exit.value.state : undefined)))

    const sagaState = (orderId: string) =>
      world
        .run(Effect.flatMap(ActorRuntime, (actors) => actors.state(Fulfilment.Fulfilment, orderId)))
        .pipe(Effect.map(({ exit }) => (Exit.isSuccess(exit) ? exit.value.state : undefined)))

    const hasDeadline = (orderId: string) =>
      world
        .run(
          Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1 FROM payment_timers WHERE order_id = ${orderId}`)
        )
        .pipe(Effect.map(({ exit }) => Exit.isSuccess(exit) && exit.value.length > 0))

    const asked = (orderId: string) => world.asked.has(Orders.paymentIdOf(orderId))

    /** The provider's answer for a card order's payment, or why it stays silent. */
    const providerAnswer = (i: number, orderId: string) =>
      Effect.gen(function* () {
        const plan = scenario.orders[i]!
        if (plan.payment === "tok_ok") return "succeeded" as const
        if (plan.payment === "tok_decline") return "failed" as const
        // tok_timeout: the provider only answers once we have given up on the payment.
        const payment = yield* paymentState(orderId)
        return payment?._tag === "Failed" && payment.reason !== "declined"
          ? ("succeeded" as const)
          : "silent until the payment is given up"
      })

    const answerProvider = (i: number, orderId: string, copies: number) =>
      Effect.gen(function* () {
        const status = yield* providerAnswer(i, orderId)
        if (status !== "succeeded" && status !== "failed") return status
        const amount = Money.make(totalOf(scenario, scenario.orders[i]!))
        for (let copy = 0; copy < copies; copy++) {
          const exit = yield* deliver(
            `the provider's ${status} for o${i}`,
            Effect.flatMap(Payments.Payments, (payments) =>
              payments.recordProviderResult({
                paymentId: Orders.paymentIdOf(orderId),
                orderId,
                status,
                amount,
                ...(status === "failed" ? { errorMessage: "card declined" } : {})
              })
            )
          )
          if (Exit.isSuccess(exit)) outcome.providerSaid.set(i, status)
          if (copy > 0) outcome.duplicates++
        }
        return `${status} ×${copies}`
      })

    const fireDeadline = (i: number, orderId: string) =>
      Effect.gen(function* () {
        yield* deliver(
          `the deadline of o${i}`,
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            yield* sql`UPDATE payment_timers SET due_at = now() - interval '1 second'
                       WHERE order_id = ${orderId} AND fired_at IS NULL`
            return yield* PaymentTimers.fireDue
          })
        )
        outcome.deadlines.add(i)
      })

    const sent = new Map<string, Array<string>>()
    let trackingSeq = 0
    const shippingMessage = (i: number, orderId: string, kind: "order.shipped" | "order.cancelled", again: boolean) => {
      const key = `${i}/${kind}`
      const earlier = sent.get(key) ?? []
      if (again && earlier.length > 0) return { value: earlier[earlier.length - 1]!, redelivered: true }
      const eventId = randomUUID()
      const trackingNumber = `TRK-${i}-${++trackingSeq}`
      const value = JSON.stringify({
        event_id: eventId,
        type: kind,
        occurred_at: new Date().toISOString(),
        order_id: orderId,
        shipment_id: Orders.shipmentIdOf(orderId),
        ...(kind === "order.shipped" ? { tracking_number: trackingNumber, shipped_at: new Date().toISOString() } : {}),
        ...(kind === "order.cancelled" ? { reason: "address_unreachable" } : {})
      })
      sent.set(key, [...earlier, value])
      return { value, redelivered: false }
    }

    const ship = (
      i: number,
      orderId: string,
      kind: "order.shipped" | "order.cancelled",
      copies: number,
      again: boolean
    ) =>
      Effect.gen(function* () {
        const { value, redelivered } = shippingMessage(i, orderId, kind, again)
        for (let copy = 0; copy < copies; copy++) {
          yield* deliver(
            `${kind} for o${i}`,
            ShippingInbox.handle({ topic: kind, key: orderId, value, redeliveries: copy })
          )
          if (copy > 0 || redelivered) outcome.duplicates++
        }
        if (kind === "order.shipped") {
          const tracking = JSON.parse(value).tracking_number as string
          outcome.trackingNumbers.set(i, (outcome.trackingNumbers.get(i) ?? new Set()).add(tracking))
        } else outcome.carrierCancelled.add(i)
        return `${redelivered ? "redelivered" : "sent"} ×${copies}`
      })

    /** Takes one step; returns what it did, in words. With the saga down, waits for nothing it would do. */
    const take = (step: Step, down = false): Effect.Effect<string, string> =>
      Effect.gen(function* () {
        switch (step._tag) {
          case "Place": {
            const plan = scenario.orders[step.order]!
            const userId = outcome.userIds[plan.user]!
            const items = plan.lines.map((line) => ({ sku: outcome.skuIds[line.sku]!, quantity: line.quantity }))
            const request: Orders.OrderRequest =
              plan.payment === "account"
                ? { items, paymentMethod: "account" }
                : { items, paymentMethod: "card", cardToken: plan.payment }
            const exit = yield* once(
              `placing o${step.order}`,
              Effect.flatMap(Orders.Orders, (orders) => orders.place(userId, request))
            )
            if (Exit.isFailure(exit)) return "failed"
            outcome.orderIds[step.order] = exit.value.order.id
            return `order ${exit.value.order.id}, total ${money(exit.value.order.total)}`
          }
          case "TopUp": {
            const userId = outcome.userIds[step.user]!
            const txId = randomUUID()
            const exit = yield* deliver(
              `top-up of u${step.user}`,
              Effect.flatMap(Accounts.Accounts, (accounts) => accounts.topUp(userId, Money.make(step.amount), txId)),
              ["AccountNotFound"]
            )
            if (Exit.isFailure(exit)) return "refused: no account"
            outcome.toppedUp[step.user]! += step.amount
            return `balance ${money(exit.value.balance)}`
          }
          case "OpenAccount": {
            const userId = outcome.userIds[step.user]!
            const exit = yield* deliver(
              `opening the account of u${step.user}`,
              Effect.flatMap(Accounts.Accounts, (accounts) => accounts.open(userId)),
              ["AccountAlreadyOpen"]
            )
            return Exit.isSuccess(exit) ? "opened" : "already open"
          }
          case "Restock": {
            const exit = yield* once(
              `restocking s${step.sku}`,
              Effect.flatMap(Catalog.Catalog, (catalog) => catalog.restock(outcome.skuIds[step.sku]!, step.quantity))
            )
            if (Exit.isFailure(exit)) return "failed"
            outcome.restocked[step.sku]! += step.quantity
            return `on hand ${exit.value.onHand}, available ${exit.value.available}`
          }
          case "Cancel": {
            const orderId = outcome.orderIds[step.order]
            if (orderId === undefined) return "skipped: not placed yet"
            const userId = outcome.userIds[scenario.orders[step.order]!.user]!
            outcome.ownerCancelled.add(step.order)
            const exit = yield* deliver(
              `cancelling o${step.order}`,
              Effect.flatMap(Orders.Orders, (orders) => orders.cancel(orderId, { userId, admin: false })),
              ["OrderNotCancellable"]
            )
            return Exit.isSuccess(exit) ? "cancelled" : "refused: not cancellable"
          }
          case "ProviderAnswer": {
            const orderId = outcome.orderIds[step.order]
            if (orderId === undefined) return "skipped: not placed yet"
            if (scenario.orders[step.order]!.payment === "account") return "skipped: paid by account"
            if (!asked(orderId) && !down) yield* settleNow
            if (!asked(orderId)) return "skipped: the provider was not asked"
            return yield* answerProvider(step.order, orderId, step.copies)
          }
          case "Shipping": {
            const orderId = outcome.orderIds[step.order]
            if (orderId === undefined) return "skipped: not placed yet"
            return yield* ship(step.order, orderId, step.kind, step.copies, step.redelivery)
          }
          case "Deadline": {
            const orderId = outcome.orderIds[step.order]
            if (orderId === undefined) return "skipped: not placed yet"
            if (scenario.orders[step.order]!.payment === "account") return "skipped: paid by account"
            if (!(yield* hasDeadline(orderId))) yield* settleNow
            if (!(yield* hasDeadline(orderId))) return "skipped: no deadline was set"
            yield* fireDeadline(step.order, orderId)
            return "fired"
          }
          case "Settle":
            yield* settleNow
            return "quiet"
          case "Crash":
            yield* Effect.sleep(step.delayMs)
            yield* world.crash
            outcome.crashes++
            return "crashed"
          case "CrashAfter":
            return "" // taken by the loop below
        }
      })

    // The users and the catalog.
    const staged = yield* world.run(
      Effect.gen(function* () {
        const accounts = yield* Accounts.Accounts
        const catalog = yield* Catalog.Catalog
        for (const [i, user] of scenario.users.entries()) {
          if (user.balance === null) continue
          const userId = outcome.userIds[i]!
          yield* accounts.open(userId)
          if (user.balance > 0) yield* accounts.topUp(userId, Money.make(user.balance), randomUUID())
          outcome.toppedUp[i] = user.balance
        }
        for (const [i, sku] of scenario.skus.entries()) {
          yield* catalog.defineProduct({
            sku: outcome.skuIds[i]!,
            name: `Part s${i}`,
            price: Money.make(sku.price),
            initialStock: sku.stock
          })
        }
      })
    )
    if (Exit.isFailure(staged.exit)) return yield* Effect.fail(`staging failed: ${Cause.pretty(staged.exit.cause)}`)

    const { steps } = scenario
    const played = Effect.gen(function* () {
      for (let k = 0; k < steps.length; k++) {
        const step = steps[k]!
        const next = steps[k + 1]
        if (step._tag === "Crash" && step.duringNext && next !== undefined && redeliverable(next)) {
          const crash = yield* Effect.forkChild(Effect.andThen(Effect.sleep(step.delayMs), world.crash))
          const did = yield* take(next)
          yield* Fiber.join(crash)
          outcome.crashes++
          trace.push(`${k + 1}. ${describeStep(step)}: crashed`, `${k + 2}. ${describeStep(next)}: ${did}`)
          k++
          continue
        }
        if (step._tag === "CrashAfter") {
          const during = step.duringNext && next !== undefined && redeliverable(next)
          const downTrace: Array<string> = []
          const whileDown = Effect.forEach(
            step.whileDown,
            (down) =>
              Effect.gen(function* () {
                const did = yield* take(down, true).pipe(Effect.catch((e) => Effect.succeed(`failed: ${e}`)))
                downTrace.push(`   (saga down) ${describeStep(down)}: ${did}`)
              }),
            { discard: true }
          )
          const { point } = step
          const orderId = "order" in point ? outcome.orderIds[point.order] : undefined
          if ("order" in point && orderId === undefined) {
            trace.push(`${k + 1}. ${describeStep(step)}: skipped, not placed yet`)
            continue
          }
          const armed = yield* world.arm(
            "order" in point ? { orderId: orderId!, stage: point.stage } : { commands: point.commands },
            whileDown
          )
          const did = during ? yield* take(next!) : undefined
          const crashed = yield* world.awaitCrash(armed, placed())
          trace.push(`${k + 1}. ${describeStep(step)}: ${crashed ? "crashed" : "the saga went quiet first"}`)
          if (did !== undefined) trace.push(`${k + 2}. ${describeStep(next!)}: ${did}`)
          if (crashed) {
            outcome.crashes++
            trace.push(...downTrace)
          }
          if (during) k++
          continue
        }
        trace.push(`${k + 1}. ${describeStep(step)}: ${yield* take(step)}`)
      }

      // The inputs stop; what the outside world still does.
      yield* settleNow.pipe(Effect.mapError((e) => `after the steps: ${e}`))
      const cards = outcome.orderIds.flatMap((orderId, i) =>
        orderId !== undefined && scenario.orders[i]!.payment !== "account" ? [{ i, orderId }] : []
      )
      // A payment still unanswered: the provider answers in time, or the deadline passes first.
      const late: Array<{ readonly i: number; readonly orderId: string }> = []
      for (const { i, orderId } of cards) {
        const plan = scenario.orders[i]!
        const payment = yield* paymentState(orderId)
        if (payment?._tag !== "Pending") continue
        if (plan.provider === "in_time" && plan.payment !== "tok_timeout" && asked(orderId)) {
          trace.push(`end: the provider answers for o${i}: ${yield* answerProvider(i, orderId, 1)}`)
          continue
        }
        yield* fireDeadline(i, orderId)
        trace.push(`end: the deadline of o${i} passes`)
        if (plan.provider !== "never") late.push({ i, orderId })
      }
      yield* settleNow.pipe(Effect.mapError((e) => `after the deadlines: ${e}`))
      for (const { i, orderId } of late) {
        if (!asked(orderId)) continue
        trace.push(`end: the provider answers late for o${i}: ${yield* answerProvider(i, orderId, 1)}`)
      }
      yield* settleNow.pipe(Effect.mapError((e) => `after the provider's last answers: ${e}`))
      for (const [i, orderId] of outcome.orderIds.entries()) {
        if (orderId === undefined) continue
        const saga = yield* sagaState(orderId)
        if (saga?._tag !== "Saga" || saga.stage !== "awaiting_shipment") continue
        const kind = scenario.orders[i]!.shipping === "ship" ? "order.shipped" : "order.cancelled"
        trace.push(`end: shipping sends ${kind} for o${i}: ${yield* ship(i, orderId, kind, 1, false)}`)
      }
      yield* settleNow.pipe(Effect.mapError((e) => `after the shipping service's answers: ${e}`))
    })
    // Stuck (a saga never quiet): reported with everything the checks find.
    yield* Effect.catch(played, (stuck) => Effect.sync(() => void outcome.problems.push(`stuck: ${stuck}`)))
    return outcome
  })

/** The orders' final statuses, for the report. */
export const statuses = (world: World, outcome: Outcome) =>
  world
    .run(
      Effect.flatMap(Orders.Orders, (orders) =>
        Effect.forEach(outcome.orderIds, (orderId) =>
          orderId === undefined
            ? Effect.succeed("not placed")
            : Effect.map(orders.get(orderId, admin), (o) =>
                o.statusReason ? `${o.status} (${o.statusReason})` : o.status
              )
        )
      )
    )
    .pipe(Effect.map(({ exit }) => (Exit.isSuccess(exit) ? exit.value : [])))
