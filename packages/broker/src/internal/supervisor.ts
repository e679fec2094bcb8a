/**
 * Keeps a subscription going through broker outages: it runs one session (a
 * channel, a consumer) after another for as long as the scope is open,
 * waiting between them longer after each session that broke before it was
 * ready. The first session is the exception: `subscribe` waits until it is
 * ready, and fails with its error when it never gets there.
 */
import { Deferred, Duration, Effect, Exit, type Scope } from "effect"
import { BrokerError } from "../Broker.ts"
import * as Redelivery from "./redelivery.ts"

export interface SupervisorOptions<R> {
  readonly group: string
  /** What the log says happened when a session ends, e.g. "the RabbitMQ channel closed". */
  readonly lost: string
  readonly reconnectDelay: Duration.Input
  readonly maxReconnectDelay: Duration.Input
  /** One session: it runs `onReady` once it receives messages, and ends (or fails) when it breaks. */
  readonly session: (onReady: Effect.Effect<void>) => Effect.Effect<unknown, BrokerError, R>
}

export const run = <R>(options: SupervisorOptions<R>): Effect.Effect<void, BrokerError, R | Scope.Scope> =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<void, BrokerError>()
    const loop = Effect.gen(function* () {
      let attempt = 0
      while (true) {
        let established = false
        const onReady = Effect.suspend(() => {
          established = true
          return Deferred.succeed(ready, undefined)
        })
        const exit = yield* Effect.exit(options.session(onReady))
        if (!(yield* Deferred.isDone(ready))) {
          return yield* Exit.isFailure(exit)
            ? Deferred.failCause(ready, exit.cause)
            : Deferred.fail(
                ready,
                new BrokerError({ operation: "subscribe", cause: new Error(`${options.lost} during setup`) })
              )
        }
        attempt = established ? 1 : attempt + 1
        const wait = Redelivery.backoff(options.reconnectDelay, options.maxReconnectDelay, attempt)
        yield* Effect.logWarning(
          `Broker: ${options.lost}; the subscription starts again in ${Duration.format(wait)}`,
          ...(Exit.isFailure(exit) ? [exit.cause] : [])
        ).pipe(Effect.annotateLogs({ group: options.group }))
        yield* Effect.sleep(wait)
      }
    })
    yield* Effect.forkScoped(loop)
    yield* Deferred.await(ready)
  })
