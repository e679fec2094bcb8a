/**
 * An in-memory stand-in for the `Broker` port, just enough to drive a
 * consumer by hand: it records what is published and which subscriptions
 * are open, and `deliver` hands a message to the open subscriptions of its
 * topic, answering whether the consumer acknowledged it (its handler
 * succeeded), as a real adapter would before redelivering.
 */
import { Broker, type IncomingMessage, type OutgoingMessage, type SubscribeOptions } from "@agora/broker"
import { Context, Effect, Exit, Layer } from "effect"

interface Subscription {
  readonly options: SubscribeOptions
  readonly handle: (message: IncomingMessage) => Effect.Effect<void, unknown>
}

export class FakeBroker extends Context.Service<
  FakeBroker,
  {
    readonly published: ReadonlyArray<OutgoingMessage>
    readonly subscriptions: ReadonlyArray<SubscribeOptions>
    /** Hands `value` on `topic` to every open subscription of the topic; `true` if all acknowledged. */
    readonly deliver: (topic: string, value: string, key?: string) => Effect.Effect<boolean>
  }
>()("test/FakeBroker") {
  /** Both the port and the handle on it. */
  static readonly layer = Layer.effectContext(
    Effect.sync(() => {
      const published: Array<OutgoingMessage> = []
      const subscriptions = new Set<Subscription>()
      const broker = Broker.of({
        kind: "fake",
        publish: (messages) => Effect.sync(() => void published.push(...messages)),
        subscribe: (options, handle) =>
          Effect.gen(function* () {
            const context = yield* Effect.context<Effect.Services<ReturnType<typeof handle>>>()
            const subscription: Subscription = {
              options,
              handle: (message) => Effect.provideContext(handle(message), context)
            }
            subscriptions.add(subscription)
            yield* Effect.addFinalizer(() => Effect.sync(() => subscriptions.delete(subscription)))
          }),
        ping: Effect.void
      })
      const fake = FakeBroker.of({
        get published() {
          return published
        },
        get subscriptions() {
          return [...subscriptions].map((s) => s.options)
        },
        deliver: (topic, value, key) =>
          Effect.forEach(
            [...subscriptions].filter((s) => s.options.topics.some((t) => t === topic)),
            (s) =>
              Effect.map(Effect.exit(s.handle({ topic, key: key ?? null, value, redeliveries: 0 })), Exit.isSuccess),
            { concurrency: "unbounded" }
          ).pipe(Effect.map((acks) => acks.every(Boolean)))
      })
      return Context.make(Broker, broker).pipe(Context.add(FakeBroker, fake))
    })
  )
}
