/**
 * The world the saga model runs in: one PostgreSQL database, and on it one
 * process at a time — event store, actor runtime, the app services and the
 * saga coordinator — that a test can crash (every fiber of the process
 * interrupted, the actors' memory lost) and start again on the same
 * database, as a kill -9 and a restart would. A crash comes after a while,
 * or exactly after the process's k-th command to an actor, or right after an
 * order's saga moved to a given stage (the process freezes there); the saga
 * may stay down for a while, meanwhile an API process without it serves the
 * users.
 *
 * The outside world outlives the crashes: the card provider (a fake that
 * records what it was asked), and the senders of webhooks and broker
 * messages, which deliver again what a crash interrupted.
 */
import { ActorRuntime, InProcessActorRuntime } from "@agora/actors"
import { Fulfilment } from "@agora/domain"
import { type EventStore, Lease, PgEventStore, type SnapshotStore } from "@agora/eventstore"
import { MemoryReadModelStore, type Projections, ReadModelStore } from "@agora/readmodels"
import type { TestDatabase } from "@agora/testkit"
import { Cause, ConfigProvider, Context, Deferred, Effect, Exit, Fiber, Layer, Logger, Scope, Semaphore } from "effect"
import { SqlClient } from "effect/sql"
import {
  Accounts,
  Catalog,
  FulfilmentSaga,
  Orders,
  PaymentProvider,
  Payments,
  ReadModels,
  ShippingInbox
} from "../../src/index.ts"

/** The database the processes share: a `PgClient` and its `SqlClient`. */
export type Database = Layer.Success<ReturnType<typeof TestDatabase.layer>>

/** What a process offers the test. */
export type Services =
  | FulfilmentSaga.FulfilmentSaga
  | Orders.Orders
  | Accounts.Accounts
  | Catalog.Catalog
  | Payments.Payments
  | ActorRuntime
  | EventStore
  | SnapshotStore
  | Projections
  | Database

interface Process {
  readonly generation: number
  readonly context: Context.Context<Services>
  readonly scope: Scope.Closeable
}

/** Where a crash comes: right after the process's next k commands to its actors, or right after a saga's move. */
export type CrashPoint = { readonly commands: number } | { readonly orderId: string; readonly stage: Fulfilment.Stage }

/** A saga as a command left it. */
interface SagaSeen {
  readonly orderId: string
  readonly stage: Fulfilment.Stage
}

/** A crash waiting for its point. */
export interface Armed {
  readonly after: (sagas: ReadonlyArray<SagaSeen>) => boolean
  fired: boolean
  readonly fire: Effect.Effect<void>
  readonly done: Deferred.Deferred<void>
}

export interface World {
  /**
   * Runs `effect` in the current process. When a crash interrupts it and
   * `redeliver` is set, it runs again in the next process (a webhook or
   * broker message not acknowledged is delivered again).
   */
  readonly run: <A, E>(
    effect: Effect.Effect<A, E, Services>,
    options?: { readonly redeliver?: boolean }
  ) => Effect.Effect<{ readonly exit: Exit.Exit<A, E>; readonly interrupted: number }>
  /** Crashes the current process and starts the next one on the same database. */
  readonly crash: Effect.Effect<void>
  /**
   * Arms a crash right after the command that reaches `point` (the process
   * freezes there); while the saga is down, `whileDown` runs in an API
   * process without it.
   */
  readonly arm: (point: CrashPoint, whileDown: Effect.Effect<void>) => Effect.Effect<Armed>
  /**
   * Waits until the armed crash is over (the new process started): true; or
   * until the saga went quiet first: false, and the crash is disarmed.
   */
  readonly awaitCrash: (armed: Armed, orderIds: ReadonlyArray<string>) => Effect.Effect<boolean, string>
  /**
   * Waits until the saga has followed the log to its end and none of `orderIds`
   * has a step to take; fails with what is stuck after `timeoutMs`.
   */
  readonly settle: (orderIds: ReadonlyArray<string>, timeoutMs?: number) => Effect.Effect<void, string>
  /** The payment ids the card provider was asked to charge (in any process), with how often. */
  readonly asked: ReadonlyMap<string, number>
  /** How many processes were started (API-only ones included). */
  readonly processes: () => number
  /** Error-level log lines since the last `drainErrors`. */
  readonly drainErrors: () => ReadonlyArray<string>
}

/**
 * The read models outlive the processes, as Redis would: one store per
 * database, so a restarted process resumes the projections from their
 * checkpoints instead of replaying every earlier scenario's events.
 */
const readModelStores = new WeakMap<object, ReadModelStore["Service"]>()
const readModelStoreOf = (database: Context.Context<Database>): ReadModelStore["Service"] => {
  const key = Context.get(database, SqlClient.SqlClient)
  let store = readModelStores.get(key)
  if (store === undefined) {
    store = Effect.runSync(MemoryReadModelStore.make)
    readModelStores.set(key, store)
  }
  return store
}

/** The deadline the processes run with: long, so only the test makes deadlines due. */
const paymentTimeout = "1 hour"

/** The saga's log follower in partitions, as a scaled deployment runs it (`SAGA_PARTITIONS`, default 4). */
const sagaPartitions = 4

/**
 * Builds the world on the database in context and starts its first process;
 * the last process stops with the scope.
 */
export const make = (
  options: {
    /** How long the saga may take to go quiet (a few hundred ms is usual) before it counts as stuck. */
    readonly settleTimeoutMs?: number
  } = {}
) =>
  Effect.gen(function* () {
    const settleTimeoutMs = options.settleTimeoutMs ?? 8_000
    const database = yield* Effect.context<Database>()
    // The crash a command triggers is run from here, not forked from the frozen fiber, whose context (the
    // dying process's services and references) the next process would otherwise inherit.
    const runFork = Effect.runForkWith(yield* Effect.context<never>())
    const asked = new Map<string, number>()
    const errors: Array<string> = []

    const provider = Layer.succeed(
      PaymentProvider.PaymentProvider,
      PaymentProvider.PaymentProvider.of({
        request: (payment) =>
          Effect.sync(() => void asked.set(payment.paymentId, (asked.get(payment.paymentId) ?? 0) + 1))
      })
    )
    // Warnings (a parked message, a retried pass) are expected under crashes; errors are kept for the report.
    const collector = Logger.make((options) => {
      if (options.logLevel !== "Error" && options.logLevel !== "Fatal") return
      errors.push(Logger.formatSimple.log(options).slice(0, 4000))
    })
    const loggers = new Set([collector])

    /** Armed by `arm`: after the command it names, the process freezes and the crash starts. */
    let trigger: Armed | undefined
    const afterCommand = (sagas: ReadonlyArray<SagaSeen>) =>
      Effect.suspend(() => {
        if (trigger === undefined || trigger.fired || !trigger.after(sagas)) return Effect.void
        trigger.fired = true
        return Effect.andThen(trigger.fire, Effect.never)
      })
    /** The sagas a command left, and at which stage. */
    const sagasOf = (
      parts: ReadonlyArray<{ readonly aggregate: unknown; readonly id: string }>,
      exit: Exit.Exit<unknown, unknown>
    ) =>
      Exit.isFailure(exit)
        ? []
        : parts.flatMap((part, i) => {
            if (part.aggregate !== Fulfilment.Fulfilment) return []
            const results = Array.isArray(exit.value) ? exit.value : [exit.value]
            const state = (results[i] as { readonly state: Fulfilment.FulfilmentState } | undefined)?.state
            return state?._tag === "Saga" ? [{ orderId: part.id, stage: state.stage }] : []
          })
    const counting = (runtime: ActorRuntime["Service"]): ActorRuntime["Service"] =>
      ActorRuntime.of({
        ...runtime,
        send: (aggregate, id, command, context) =>
          Effect.flatten(
            Effect.tap(Effect.exit(runtime.send(aggregate, id, command, context)), (exit) =>
              afterCommand(sagasOf([{ aggregate, id }], exit))
            )
          ),
        sendTogether: ((parts, context) =>
          Effect.flatten(
            Effect.tap(Effect.exit(runtime.sendTogether(parts, context)), (exit) => afterCommand(sagasOf(parts, exit)))
          )) as ActorRuntime["Service"]["sendTogether"]
      })
    const actors = Layer.effect(ActorRuntime, Effect.map(InProcessActorRuntime.make(), counting))

    const base = <A, E, R>(top: Layer.Layer<A, E, R>) =>
      top.pipe(
        Layer.provideMerge(Layer.mergeAll(Orders.layer, Accounts.layer, Catalog.layer, Payments.layer, provider)),
        Layer.provideMerge(
          ReadModels.layer.pipe(Layer.provideMerge(Layer.succeed(ReadModelStore, readModelStoreOf(database))))
        ),
        Layer.provideMerge(actors),
        // Each process has its own lease session, as a process of its own would.
        Layer.provideMerge(Layer.merge(PgEventStore.layer(), Lease.layer)),
        Layer.provideMerge(Layer.succeedContext(database)),
        Layer.provide(
          ConfigProvider.layer(
            ConfigProvider.fromUnknown({ PAYMENT_TIMEOUT: paymentTimeout, SAGA_PARTITIONS: String(sagaPartitions) })
          )
        ),
        Layer.orDie
      )
    const full = base(FulfilmentSaga.layer)
    // The API without the saga (nor the shipping inbox or the payment timers, which run beside it).
    const sagaDown = base(
      Layer.succeed(
        FulfilmentSaga.FulfilmentSaga,
        FulfilmentSaga.FulfilmentSaga.of({
          advance: () => Effect.fail(new FulfilmentSaga.SagaUnavailable({ cause: "the saga is down" }))
        })
      )
    )

    let generation = 0
    const start = (layer: typeof full) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(layer, scope)
        generation++
        return { generation, context, scope } satisfies Process
      }).pipe(Effect.provideService(Logger.CurrentLoggers, loggers))

    yield* ShippingInbox.migrate.pipe(Effect.provide(database), Effect.orDie)
    let current = Deferred.makeUnsafe<Process>()
    Deferred.doneUnsafe(current, Exit.succeed(yield* start(full)))
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Deferred.await(current), (process) => Scope.close(process.scope, Exit.void))
    )

    /** Stops the current process and starts `layer` in its place. */
    const replace = (layer: typeof full) =>
      Effect.gen(function* () {
        const dying = yield* Deferred.await(current)
        // Whoever the crash interrupts waits for the next process.
        const next = Deferred.makeUnsafe<Process>()
        current = next
        yield* Scope.close(dying.scope, Exit.void)
        Deferred.doneUnsafe(next, Exit.succeed(yield* start(layer)))
      })

    const crashing = Semaphore.makeUnsafe(1)
    const crashWith = (whileDown: Effect.Effect<void> | undefined) =>
      Semaphore.withPermit(
        crashing,
        Effect.gen(function* () {
          trigger = undefined
          if (whileDown !== undefined) {
            yield* replace(sagaDown)
            yield* whileDown
          }
          yield* replace(full)
        })
      ).pipe(Effect.provideService(Logger.CurrentLoggers, loggers))
    const crash = crashWith(undefined)

    const run = <A, E>(effect: Effect.Effect<A, E, Services>, options: { readonly redeliver?: boolean } = {}) =>
      Effect.gen(function* () {
        let interrupted = 0
        while (true) {
          const handle = current
          const process = yield* Deferred.await(handle)
          const fiber = yield* Effect.forkIn(Effect.provide(effect, process.context), process.scope)
          const exit = yield* Fiber.await(fiber)
          // A crash during the call: whatever it answered (an interruption, a store shut down under it) is lost.
          if (handle === current) return { exit, interrupted }
          interrupted++
          if (!options.redeliver) return { exit, interrupted }
        }
      }).pipe(Effect.provideService(Logger.CurrentLoggers, loggers))

    const quiet = (orderIds: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const actors = yield* ActorRuntime
        const [head] = yield* sql<{ readonly head: string | number | null }>`SELECT max(position) AS head FROM events`
        if ((yield* FulfilmentSaga.followedUpTo(sagaPartitions)) < Number(head?.head ?? 0)) {
          return "the saga has not followed the log"
        }
        for (const orderId of orderIds) {
          const { state } = yield* actors.state(Fulfilment.Fulfilment, orderId)
          const step = Fulfilment.nextStep(state)
          if (step !== undefined) return `order ${orderId} waits on its step ${step}`
        }
        return undefined
      })

    /** Polls `quiet` until it holds, or `done` says to stop waiting. */
    const waitQuiet = (orderIds: ReadonlyArray<string>, timeoutMs: number, done: () => boolean) =>
      Effect.gen(function* () {
        const deadline = Date.now() + timeoutMs
        while (!done()) {
          const { exit } = yield* run(quiet(orderIds), { redeliver: true })
          if (Exit.isSuccess(exit) && exit.value === undefined) return true
          if (Date.now() > deadline) {
            const why = Exit.isSuccess(exit) ? exit.value : Cause.pretty(exit.cause)
            return yield* Effect.fail(`not settled after ${timeoutMs} ms: ${why}`)
          }
          yield* Effect.sleep("4 millis")
        }
        return false
      })

    const settle = (orderIds: ReadonlyArray<string>, timeoutMs = settleTimeoutMs) =>
      Effect.asVoid(waitQuiet(orderIds, timeoutMs, () => false))

    const arm = (after: CrashPoint, whileDown: Effect.Effect<void>) =>
      Effect.sync(() => {
        const done = Deferred.makeUnsafe<void>()
        let remaining = "commands" in after ? after.commands : 0
        const armed: Armed = {
          after:
            "commands" in after
              ? () => --remaining <= 0
              : (sagas) => sagas.some((saga) => saga.orderId === after.orderId && saga.stage === after.stage),
          fired: false,
          done,
          fire: Effect.sync(
            () => void runFork(Effect.ensuring(crashWith(whileDown), Deferred.succeed(done, undefined)))
          )
        }
        trigger = armed
        return armed
      })

    const awaitCrash = (armed: Armed, orderIds: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const quietFirst = yield* waitQuiet(orderIds, settleTimeoutMs, () => armed.fired)
        // Quiet before the k-th command: disarmed, unless it fired just now.
        if (quietFirst && !armed.fired && trigger === armed) trigger = undefined
        if (!armed.fired) return false
        yield* Deferred.await(armed.done)
        return true
      }).pipe(Effect.provideService(Logger.CurrentLoggers, loggers))

    return {
      run,
      crash,
      arm,
      awaitCrash,
      settle,
      asked,
      processes: () => generation,
      drainErrors: () => errors.splice(0)
    } satisfies World
  })
