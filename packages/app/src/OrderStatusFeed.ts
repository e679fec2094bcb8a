/**
 * Live order statuses (SPEC §3 "Live status"): one follower of the global
 * event log per process, fanned out to whoever watches an order (the SSE and
 * WebSocket routes).
 *
 * A watch yields the order's current status, then every change, in version
 * order, and ends after a terminal status (DELIVERED, CANCELLED). No change
 * is missed or repeated: the watcher is registered with the feed before the
 * order's stream is read, changes up to the version read are dropped, and a
 * version that skips ahead is filled in from the stream. Statuses are the
 * order decider's own: its `evolve`, folded from the state read.
 *
 * The follower starts at the log's head when the layer is built and, when
 * its subscription fails, resumes after the last event it handed out (backing
 * off), so watchers see a pause, never a gap. Each watcher has a bounded
 * queue: one that falls that far behind fails with `WatcherLagging`, to be
 * disconnected rather than given a gap.
 */
import { fold, Order, streamId } from "@agora/domain"
import { EventStore, type RecordedEvent, Uuid } from "@agora/eventstore"
import { Cause, Context, Duration, Effect, Exit, Layer, Queue, Schema, Stream } from "effect"

/** An order's status as a watcher sees it, at the order's version that set it. */
export interface StatusChange {
  readonly orderId: string
  readonly status: Order.OrderStatus
  readonly statusReason: Order.CancelReason | null
  readonly version: number
}

/** The watcher's queue filled up: it is cut off rather than allowed to skip changes. */
export class WatcherLagging extends Schema.TaggedError<WatcherLagging>()("WatcherLagging", {
  orderId: Schema.String,
  capacity: Schema.Number
}) {
  override get message() {
    return `the watcher of order ${this.orderId} fell more than ${this.capacity} changes behind`
  }
}

/** The order's events could not be read (store down, or an event that does not decode). */
export class FeedUnavailable extends Schema.TaggedError<FeedUnavailable>()("FeedUnavailable", {
  orderId: Schema.String,
  cause: Schema.Defect()
}) {}

export type WatchError = Order.OrderNotFound | WatcherLagging | FeedUnavailable

export class OrderStatusFeed extends Context.Service<
  OrderStatusFeed,
  {
    /**
     * The order's current status, then each change; ends after a terminal
     * status. Fails `OrderNotFound` for an order that does not exist (no
     * visibility check: that is the caller's, see `Orders.get`).
     */
    readonly watch: (orderId: string) => Stream.Stream<StatusChange, WatchError>
    /** How many watchers an order has now. */
    readonly watchers: (orderId: string) => Effect.Effect<number>
  }
>()("@agora/app/OrderStatusFeed") {}

/** DELIVERED and CANCELLED: the state machine allows no move from them. */
export const isTerminal = (status: Order.OrderStatus): boolean => Order.transitions[status].length === 0

export interface Options {
  /** Changes a watcher may have queued before it is cut off (default 64; an order has at most 5). */
  readonly capacity?: number
}

const defaultCapacity = 64
const subscriptionName = "order-status-feed"

/** An order event as the follower hands it to watchers. */
interface Update {
  readonly version: number
  readonly event: Order.OrderEvent
}

type WatcherQueue = Queue.Queue<Update, WatcherLagging | FeedUnavailable | Cause.Done>

const eventOf = (recorded: RecordedEvent): unknown => ({ ...(recorded.data as object), _tag: recorded.type })
const decodeExit = Schema.decodeUnknownExit(Order.Order.eventSchema)
const decodeEffect = Schema.decodeUnknownEffect(Order.Order.eventSchema)

/** Delay before the `failures`-th consecutive restart of the follower: 200 ms doubling, at most 10 s. */
const backoff = (failures: number): Duration.Duration =>
  Duration.millis(Math.min(200 * 2 ** Math.min(failures - 1, 16), 10_000))

const changeOf = (orderId: string, state: Order.PlacedOrder, version: number): StatusChange => ({
  orderId,
  status: Order.statusOf(state),
  statusReason: state._tag === "Cancelled" ? state.reason : null,
  version
})

export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const capacity = options.capacity ?? defaultCapacity
    // Stream id → the queues of its watchers. Only the follower offers to them.
    const watchersByStream = new Map<string, Set<WatcherQueue>>()
    // The last event handed out: the follower resumes after it.
    let position = yield* store.headPosition

    const dispatch = (batch: ReadonlyArray<RecordedEvent>) => {
      for (const recorded of batch) {
        const queues = recorded.streamType === Order.Order.type ? watchersByStream.get(recorded.streamId) : undefined
        if (queues === undefined) continue
        const decoded = decodeExit(eventOf(recorded))
        const orderId = recorded.streamId.slice(Order.Order.type.length + 1)
        for (const queue of queues) {
          if (Exit.isFailure(decoded)) {
            queues.delete(queue)
            Queue.failCauseUnsafe(queue, Cause.fail(new FeedUnavailable({ orderId, cause: decoded.cause })))
          } else if (!Queue.offerUnsafe(queue, { version: recorded.version, event: decoded.value })) {
            queues.delete(queue)
            Queue.failCauseUnsafe(queue, Cause.fail(new WatcherLagging({ orderId, capacity })))
          }
        }
      }
      const last = batch.at(-1)
      if (last !== undefined) position = last.position
    }

    const followOnce = Effect.suspend(() =>
      store
        .subscribe({ name: subscriptionName, from: { after: position } })
        .pipe(Stream.runForEachArray((batch) => Effect.sync(() => dispatch(batch))))
    )

    const followForever = Effect.gen(function* () {
      let failures = 0
      while (true) {
        const before = position
        const exit = yield* Effect.exit(followOnce)
        // A run that made progress starts the backoff over.
        failures = position === before ? failures + 1 : 1
        const delay = backoff(failures)
        yield* Effect.logWarning(
          `Order status feed: following the event log stopped after position ${position}; resuming in ${Duration.format(delay)}`,
          Exit.isFailure(exit) ? exit.cause : "the subscription ended"
        )
        yield* Effect.sleep(delay)
      }
    })
    yield* Effect.forkScoped(followForever)

    const register = (id: string) =>
      Effect.acquireRelease(
        Effect.map(Queue.bounded<Update, WatcherLagging | FeedUnavailable | Cause.Done>(capacity), (queue) => {
          const queues = watchersByStream.get(id) ?? new Set()
          queues.add(queue)
          watchersByStream.set(id, queues)
          return queue
        }),
        (queue) =>
          Effect.sync(() => {
            const queues = watchersByStream.get(id)
            queues?.delete(queue)
            if (queues?.size === 0) watchersByStream.delete(id)
          })
      )

    /** The stream's events from `fromVersion`, at most `maxCount` of them. */
    const readEvents = (orderId: string, fromVersion: number, maxCount?: number) =>
      Effect.gen(function* () {
        const recorded = yield* store.readStream(
          streamId(Order.Order, orderId),
          maxCount === undefined ? { fromVersion } : { fromVersion, maxCount }
        )
        return yield* Effect.forEach(recorded, (r) =>
          Effect.map(decodeEffect(eventOf(r)), (event): Update => ({ version: r.version, event }))
        )
      }).pipe(Effect.mapError((cause) => new FeedUnavailable({ orderId, cause })))

    interface Current {
      readonly state: Order.PlacedOrder
      readonly version: number
    }

    /** Folds updates past `current` into it, with the changes of status they make. */
    const advance = (orderId: string, current: Current, updates: ReadonlyArray<Update>) => {
      let { state, version } = current
      const changes: Array<StatusChange> = []
      for (const update of updates) {
        if (update.version <= version) continue
        const next = Order.Order.evolve(state, update.event)
        version = update.version
        // `evolve` never unplaces an order; the guard is for the type.
        if (next._tag === "NoOrder") continue
        const before = changeOf(orderId, state, version)
        const after = changeOf(orderId, next, version)
        if (after.status !== before.status || after.statusReason !== before.statusReason) changes.push(after)
        state = next
      }
      return [{ state, version }, changes] as const
    }

    const watch = (orderId: string): Stream.Stream<StatusChange, WatchError> =>
      Stream.unwrap(
        Effect.gen(function* () {
          if (!Uuid.isUuid(orderId)) return yield* new Order.OrderNotFound({ orderId })
          // Registered before the read: whatever commits after the read reaches the queue.
          const queue = yield* register(streamId(Order.Order, orderId))
          const events = yield* readEvents(orderId, 1)
          const state = fold(
            Order.Order,
            Order.Order.initialState,
            Array.from(events, (u) => u.event)
          )
          if (state._tag === "NoOrder") return yield* new Order.OrderNotFound({ orderId })
          const first = changeOf(orderId, state, events.at(-1)?.version ?? 0)
          if (isTerminal(first.status)) return Stream.make(first)
          const changes = Stream.fromQueue(queue).pipe(
            Stream.mapAccumEffect(
              (): Current => ({ state, version: first.version }),
              (current, update) => {
                if (update.version <= current.version + 1) return Effect.succeed(advance(orderId, current, [update]))
                // The follower skipped versions (it cannot, but a gap is never passed on): read them.
                return Effect.map(
                  readEvents(orderId, current.version + 1, update.version - current.version),
                  (missed) => advance(orderId, current, missed)
                )
              }
            )
          )
          return Stream.concat(Stream.make(first), changes).pipe(Stream.takeUntil((c) => isTerminal(c.status)))
        })
      )

    const watchers = (orderId: string) =>
      Effect.sync(() => watchersByStream.get(streamId(Order.Order, orderId))?.size ?? 0)

    return OrderStatusFeed.of({ watch, watchers })
  })

/** The feed, following the log from its head for the layer's lifetime. */
export const layer = Layer.effect(OrderStatusFeed, make())

/** The feed with other options (tests: a tiny `capacity`). */
export const layerWith = (options: Options) => Layer.effect(OrderStatusFeed, make(options))
