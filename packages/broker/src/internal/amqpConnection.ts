/**
 * The one AMQP connection a RabbitMQ broker shares between its publisher and
 * its subscriptions. It is opened on first use, and again on the first use
 * after it was lost, so a RabbitMQ restart costs a reconnect, not a process
 * restart. Opening is serialised: after an outage every subscription asks at
 * once, and one connection is made. Closing the scope closes it for good.
 */
import * as Amqp from "amqplib"
import { Duration, Effect, type Scope, Semaphore } from "effect"
import { BrokerError } from "../Broker.ts"

export interface AmqpConnection {
  /** The open connection, opened if there is none; fails when RabbitMQ cannot be reached. */
  readonly get: Effect.Effect<Amqp.ChannelModel, BrokerError>
}

export interface ConnectionOptions {
  readonly url: string
  /** How long opening a connection may take. */
  readonly connectTimeout: Duration.Duration
  /** Shown in RabbitMQ's connection list. */
  readonly name: string
}

const quietClose = (connection: Amqp.ChannelModel) => Effect.tryPromise(() => connection.close()).pipe(Effect.ignore)

export const make = (options: ConnectionOptions): Effect.Effect<AmqpConnection, never, Scope.Scope> =>
  Effect.gen(function* () {
    const lock = yield* Semaphore.make(1)
    let current: Amqp.ChannelModel | undefined
    let closed = false

    const open = Effect.tryPromise({
      try: () =>
        Amqp.connect(options.url, {
          timeout: Duration.toMillis(options.connectTimeout),
          clientProperties: { connection_name: options.name }
        }),
      catch: (cause) => new BrokerError({ operation: "connect", cause })
    })

    const closedError = () => new BrokerError({ operation: "connect", cause: new Error("the broker is closed") })

    const get = Semaphore.withPermit(
      lock,
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError())
        if (current !== undefined) return Effect.succeed(current)
        return Effect.flatMap(open, (connection) => {
          // Without an "error" listener a connection that RabbitMQ closes (a
          // restart, a forced close) would crash the process; the "close"
          // that always follows is what matters here.
          connection.on("error", () => {})
          connection.on("close", () => {
            if (current === connection) current = undefined
          })
          // The scope closed while this connection was being opened.
          if (closed) return Effect.andThen(quietClose(connection), Effect.fail(closedError()))
          current = connection
          return Effect.succeed(connection)
        })
      })
    )

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const connection = current
        current = undefined
        return connection === undefined ? Effect.void : quietClose(connection)
      })
    )

    return { get }
  })
