import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { Kafka, logLevel } from "kafkajs"
import { KafkaBroker, topics } from "../src/index.ts"
import { BrokerFactory, brokerContract, message } from "./BrokerContract.ts"

const brokers = process.env.KAFKA_BROKERS?.split(",").filter((broker) => broker.trim() !== "") ?? []
const skipped = brokers.length === 0
if (skipped)
  console.warn("KAFKA_BROKERS is not set: no Kafka broker can run on this machine; docker/compose.yml starts one")

/**
 * Brokers whose topics carry the test's namespace as a prefix; the suite
 * deletes every topic it created when it ends.
 */
const factory = Layer.effect(
  BrokerFactory,
  Effect.gen(function* () {
    const admin = new Kafka({ clientId: "agora-test-admin", brokers, logLevel: logLevel.NOTHING }).admin()
    const prefixes = new Set<string>()
    yield* Effect.acquireRelease(
      Effect.promise(() => admin.connect()),
      () =>
        Effect.promise(async () => {
          const created = (await admin.listTopics()).filter((topic) =>
            [...prefixes].some((prefix) => topic.startsWith(prefix))
          )
          if (created.length > 0) await admin.deleteTopics({ topics: created }).catch(() => undefined)
          await admin.disconnect()
        })
    )
    return {
      make: (ns: string) => {
        prefixes.add(`${ns}.`)
        return KafkaBroker.make({
          brokers,
          clientId: "agora-test",
          topicPrefix: `${ns}.`,
          // Several partitions, so the concurrency test has keys on different ones.
          numPartitions: 3,
          replicationFactor: 1,
          redeliveryDelay: "20 millis"
        })
      },
      countsAbandonedDeliveries: false
    }
  })
)

describe.skipIf(skipped)("Kafka", () => {
  brokerContract("Kafka", factory)

  it.live("creates the SPEC topics under the prefix", () =>
    Effect.gen(function* () {
      const prefix = `created-${randomUUID()}.`
      const admin = new Kafka({ clientId: "agora-test-admin", brokers, logLevel: logLevel.NOTHING }).admin()
      yield* Effect.acquireRelease(
        Effect.promise(() => admin.connect()),
        () =>
          Effect.promise(async () => {
            await admin.deleteTopics({ topics: topics.map((topic) => prefix + topic) }).catch(() => undefined)
            await admin.disconnect()
          })
      )
      yield* KafkaBroker.make({ brokers, topicPrefix: prefix, numPartitions: 2, replicationFactor: 1 })
      const existing = yield* Effect.promise(() => admin.listTopics())
      assert.includeMembers(
        existing,
        topics.map((topic) => prefix + topic)
      )
    })
  )
})

describe("Kafka adapter without a reachable Kafka", () => {
  it.live("starts, then fails publish, ping and a first subscribe with BrokerError", () =>
    Effect.gen(function* () {
      const broker = yield* KafkaBroker.make({ brokers: ["127.0.0.1:1"] })
      assert.strictEqual(broker.kind, "kafka")
      const failures = [
        yield* broker.publish([message("order.created", "order-1")]).pipe(Effect.flip),
        yield* broker.ping.pipe(Effect.flip),
        yield* Effect.scoped(broker.subscribe({ group: randomUUID(), topics: ["order.paid"] }, () => Effect.void)).pipe(
          Effect.flip
        )
      ]
      assert.deepStrictEqual(
        failures.map((e) => e._tag),
        ["BrokerError", "BrokerError", "BrokerError"]
      )
      // kafkajs reports every refused connection attempt; they are expected here.
    }).pipe(Effect.provide(Logger.layer([])))
  )
})
