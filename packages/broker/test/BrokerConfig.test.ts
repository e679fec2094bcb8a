import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger } from "effect"
import { Broker, BrokerConfig } from "../src/index.ts"

const withEnv = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromUnknown(env))

const kindFor = (env: Record<string, string>) =>
  Effect.gen(function* () {
    return yield* BrokerConfig.kind
  }).pipe(Effect.provide(withEnv(env)))

describe("BrokerConfig", () => {
  it.effect("picks Kafka over RabbitMQ over the in-process bus", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* kindFor({}), "in-process")
      assert.strictEqual(yield* kindFor({ AMQP_URL: "amqp://localhost" }), "rabbitmq")
      assert.strictEqual(yield* kindFor({ KAFKA_BROKERS: "localhost:9092" }), "kafka")
      assert.strictEqual(yield* kindFor({ KAFKA_BROKERS: "localhost:9092", AMQP_URL: "amqp://localhost" }), "kafka")
      assert.strictEqual(yield* kindFor({ KAFKA_BROKERS: " ", AMQP_URL: "" }), "in-process")
    })
  )

  it.live("provides the chosen adapter and logs which, without credentials", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const capture = Logger.make((options) => {
        lines.push(String(options.message))
      })
      const kindOf = (env: Record<string, string>) =>
        Broker.use((broker) => Effect.succeed(broker.kind)).pipe(
          Effect.provide(BrokerConfig.layerFromConfig.pipe(Layer.provide(withEnv(env)))),
          Effect.provide(Logger.layer([capture]))
        )
      assert.strictEqual(yield* kindOf({}), "in-process")
      assert.strictEqual(
        yield* kindOf({ AMQP_URL: "amqp://agora:s3cret@127.0.0.1:1/prod", AMQP_EXCHANGE: "events" }),
        "rabbitmq"
      )
      assert.include(lines.join("\n"), "Broker: the in-process bus")
      assert.include(lines.join("\n"), "Broker: RabbitMQ at 127.0.0.1:1/prod, exchange events")
      assert.notInclude(lines.join("\n"), "s3cret")
    })
  )
})
