/**
 * The in-process broker, the embedded default: each topic fans out to one
 * in-memory queue per consumer group, and a group's subscriptions take from
 * its queue. Delivery is at least once within the process: a message leaves
 * its queue for good only when a handler succeeded; a failure delivers it
 * again after a backoff, and a subscription closed mid-handling puts it back
 * at the head of the queue for the next one. Nothing survives a restart,
 * which is why the outbox, not the bus, is the durable record.
 *
 * A group exists from its first `subscribe` on and then keeps receiving its
 * topics' messages while it has no subscriber, like a durable RabbitMQ queue;
 * messages published before that are not delivered to it. That suits one
 * process, where the subscribers start at boot before anything publishes.
 */
import { Effect, Exit, Layer } from "effect"
import { Broker, type IncomingMessage, type OutgoingMessage, type SubscribeOptions } from "./Broker.ts"
import * as Redelivery from "./internal/redelivery.ts"
import * as SubscribeOptionsCheck from "./internal/subscribeOptions.ts"
import * as Tracing from "./internal/tracing.ts"

export interface Options extends Redelivery.RedeliveryOptions {}

interface Queued {
  readonly topic: string
  readonly key: string
  readonly value: string
  readonly correlationId: string
  readonly eventId: string
  readonly traceparent: string | undefined
  redeliveries: number
}

interface Group {
  readonly name: string
  /** Every topic any of its subscriptions asked for (like a queue's bindings). */
  readonly topics: Set<string>
  readonly queue: Array<Queued>
  /** Idle workers to wake when the queue gets a message. */
  readonly waiters: Set<() => void>
}

const wake = (group: Group) => {
  const waiters = [...group.waiters]
  group.waiters.clear()
  for (const waiter of waiters) waiter()
}

/** Resumes once the group's queue holds a message (another worker may still take it first). */
const awaitMessage = (group: Group) =>
  Effect.callback<void>((resume) => {
    if (group.queue.length > 0) return resume(Effect.void)
    const waiter = () => resume(Effect.void)
    group.waiters.add(waiter)
    return Effect.sync(() => {
      group.waiters.delete(waiter)
    })
  })

/** A fresh in-process broker with no groups. */
export const make = (options: Options = {}): Effect.Effect<Broker["Service"]> =>
  Effect.sync(() => {
    const groups = new Map<string, Group>()

    const publish = (messages: ReadonlyArray<OutgoingMessage>) =>
      Tracing.publishing("in-process", messages.length, (traceparent) =>
        Effect.sync(() => {
          const touched = new Set<Group>()
          for (const message of messages) {
            for (const group of groups.values()) {
              if (!group.topics.has(message.topic)) continue
              group.queue.push({
                topic: message.topic,
                key: message.key,
                value: message.value,
                correlationId: message.correlationId ?? message.key,
                eventId: message.eventId,
                traceparent,
                redeliveries: 0
              })
              touched.add(group)
            }
          }
          for (const group of touched) wake(group)
        })
      )

    const deliver = <E, R>(
      group: Group,
      handle: (message: IncomingMessage) => Effect.Effect<void, E, R>,
      queued: Queued
    ): Effect.Effect<void, never, R> =>
      Effect.gen(function* () {
        while (true) {
          const incoming: IncomingMessage = {
            topic: queued.topic,
            key: queued.key,
            value: queued.value,
            redeliveries: queued.redeliveries,
            correlationId: queued.correlationId,
            eventId: queued.eventId,
            traceparent: queued.traceparent
          }
          if (yield* Redelivery.handleOnce(handle, incoming, group.name, "in-process")) return
          queued.redeliveries++
          yield* Effect.sleep(Redelivery.delay(options, queued.redeliveries))
        }
      })

    // Taking a message and arming the put-back happen uninterruptibly, so a
    // message is either still queued or owned by a worker that returns it.
    const worker = <E, R>(group: Group, handle: (message: IncomingMessage) => Effect.Effect<void, E, R>) =>
      Effect.forever(
        Effect.andThen(
          awaitMessage(group),
          Effect.uninterruptibleMask((restore) =>
            Effect.suspend(() => {
              const queued = group.queue.shift()
              if (queued === undefined) return Effect.void
              return restore(deliver(group, handle, queued)).pipe(
                Effect.onExit((exit) =>
                  Exit.isSuccess(exit)
                    ? Effect.void
                    : Effect.sync(() => {
                        queued.redeliveries++
                        group.queue.unshift(queued)
                        wake(group)
                      })
                )
              )
            })
          )
        )
      )

    const subscribe = <E, R>(
      subscribeOptions: SubscribeOptions,
      handle: (message: IncomingMessage) => Effect.Effect<void, E, R>
    ) =>
      Effect.gen(function* () {
        const { group: name, topics, concurrency } = yield* SubscribeOptionsCheck.validate(subscribeOptions)
        let group = groups.get(name)
        if (group === undefined) {
          group = { name, topics: new Set(), queue: [], waiters: new Set() }
          groups.set(name, group)
        }
        for (const topic of topics) group.topics.add(topic)
        for (let i = 0; i < concurrency; i++) yield* Effect.forkScoped(worker(group, handle))
      })

    return Broker.of({ kind: "in-process", publish, subscribe, ping: Effect.void })
  })

/** A fresh in-process broker as the `Broker`. */
export const layer = (options: Options = {}): Layer.Layer<Broker> => Layer.effect(Broker, make(options))
