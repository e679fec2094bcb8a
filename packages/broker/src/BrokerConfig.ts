/**
 * Picks the broker adapter from the environment (SPEC §2): Kafka when
 * `KAFKA_BROKERS` is set, RabbitMQ when `AMQP_URL` is, the in-process bus
 * otherwise. The choice is logged at start, because it decides whether
 * integration events ever leave the process.
 */
import { Config, Effect, Layer, Option, Redacted } from "effect"
import type { Broker } from "./Broker.ts"
import * as InProcessBroker from "./InProcessBroker.ts"
import * as KafkaBroker from "./KafkaBroker.ts"
import * as RabbitMqBroker from "./RabbitMqBroker.ts"

export type BrokerKind = "kafka" | "rabbitmq" | "in-process"

const present = (name: string) =>
  Config.option(Config.Redacted(name)).pipe(
    Config.map(Option.filter((value) => Redacted.value(value).trim() !== "")),
    Config.map(Option.isSome)
  )

/** Which adapter the environment asks for (an empty variable counts as unset). */
export const kind: Config.Config<BrokerKind> = Config.all({
  kafka: present("KAFKA_BROKERS"),
  rabbitmq: present("AMQP_URL")
}).pipe(Config.map(({ kafka, rabbitmq }): BrokerKind => (kafka ? "kafka" : rabbitmq ? "rabbitmq" : "in-process")))

/** Where a RabbitMQ URL points, without its credentials (for the log). */
const hostOf = (url: string) => {
  const parsed = URL.parse(url)
  return parsed === null ? "an unparsable AMQP_URL" : `${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`
}

const describe = Effect.gen(function* () {
  const chosen = yield* kind
  switch (chosen) {
    case "kafka": {
      const { brokers, clientId } = yield* KafkaBroker.config
      const ignored = (yield* present("AMQP_URL")) ? " (AMQP_URL is ignored)" : ""
      return { chosen, text: `Kafka at ${brokers.join(",")} as ${clientId}${ignored}` }
    }
    case "rabbitmq": {
      const { url, exchange } = yield* RabbitMqBroker.config
      return { chosen, text: `RabbitMQ at ${hostOf(Redacted.value(url))}, exchange ${exchange}` }
    }
    case "in-process":
      return { chosen, text: "the in-process bus (neither KAFKA_BROKERS nor AMQP_URL is set)" }
  }
})

/** The `Broker` the environment asks for, logged as it starts. */
export const layerFromConfig: Layer.Layer<Broker, Config.ConfigError> = Layer.unwrap(
  Effect.gen(function* () {
    const { chosen, text } = yield* describe
    yield* Effect.logInfo(`Broker: ${text}`)
    switch (chosen) {
      case "kafka":
        return KafkaBroker.layerConfig
      case "rabbitmq":
        return RabbitMqBroker.layerConfig
      case "in-process":
        return InProcessBroker.layer()
    }
  })
)
