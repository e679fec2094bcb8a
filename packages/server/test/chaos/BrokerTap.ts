/**
 * A second delivery of every broker message, late and out of order: the tap
 * subscribes to the scenario's RabbitMQ exchange with a queue of its own
 * (through the project's own adapter) and publishes a raw copy of each
 * message it sees — same event id, key and body, as a broker redelivery or a
 * producer's retry would — after a random delay of 0.3 to 2 s, the copies of
 * each round shuffled, so one order's copy often overtakes another's and
 * arrives after the order has moved on. Each event id is copied once (the
 * tap sees its own copies come back, and the shipping simulator answering a
 * copied `order.paid` again, with the same event id).
 */
import { randomUUID } from "node:crypto"
import { type OutgoingMessage, RabbitMqBroker, type Topic } from "@agora/broker"
import { Clock, Effect, Schedule } from "effect"
import type { Rabbit } from "./Stores.ts"

export interface BrokerTap {
  /** Copies published so far, by topic (`<topic>/agora` for Agora's own messages, which the inbox skips). */
  readonly copies: ReadonlyMap<string, number>
  /** Publishes every copy still waiting, now (shuffled). */
  readonly flush: Effect.Effect<void>
}

const topics: ReadonlyArray<Topic> = ["order.paid", "order.shipped", "order.cancelled"]

const shuffle = <A>(items: Array<A>): Array<A> => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items
}

export const make = (url: string, rabbit: Rabbit) =>
  Effect.gen(function* () {
    const broker = yield* RabbitMqBroker.make({ url, exchange: rabbit.exchange })
    const group = `chaos-tap-${randomUUID()}`
    rabbit.groups.add(group)
    const seen = new Set<string>()
    const waiting: Array<{ readonly due: number; readonly message: OutgoingMessage; readonly kind: string }> = []
    const copies = new Map<string, number>()

    const publish = (batch: Array<(typeof waiting)[number]>) =>
      batch.length === 0
        ? Effect.void
        : broker.publish(shuffle(batch).map((w) => w.message)).pipe(
            Effect.tap(() =>
              Effect.sync(() => {
                for (const w of batch) copies.set(w.kind, (copies.get(w.kind) ?? 0) + 1)
              })
            ),
            // Not copied this time: back in the queue for the next round.
            Effect.catch(() => Effect.sync(() => waiting.push(...batch.map((w) => ({ ...w, due: 0 })))))
          )

    const due = (all: boolean) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const ready = waiting.filter((w) => all || w.due <= now)
        for (const w of ready) waiting.splice(waiting.indexOf(w), 1)
        return publish(ready)
      })

    yield* broker.subscribe({ group, topics: [...topics], concurrency: 1 }, (message) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          let body: { readonly event_id?: string; readonly order_id?: string; readonly producer?: string }
          try {
            body = JSON.parse(message.value)
          } catch {
            return
          }
          const eventId = body.event_id
          if (eventId === undefined || seen.has(eventId)) return
          seen.add(eventId)
          waiting.push({
            due: now + 300 + Math.random() * 1_700,
            kind:
              body.producer === "agora" && message.topic !== "order.paid" ? `${message.topic}/agora` : message.topic,
            message: {
              topic: message.topic as Topic,
              key: message.key ?? body.order_id ?? "",
              eventId,
              value: message.value
            }
          })
        })
      )
    )
    yield* Effect.forkScoped(due(false).pipe(Effect.repeat(Schedule.spaced("400 millis"))))
    return { copies, flush: due(true) } satisfies BrokerTap
  })
