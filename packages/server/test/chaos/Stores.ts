/**
 * The machine's shared services as one scenario sees them: Redis under key
 * prefixes of its own (deleted with the scope) and RabbitMQ on an exchange of
 * its own (its queues `<exchange>.<group>` and the exchange deleted with the
 * scope). Without `REDIS_URL` / `AMQP_URL` the server keeps its read models
 * in process / uses its in-process bus.
 */
import { randomUUID } from "node:crypto"
import { RabbitMqBroker } from "@agora/broker"
import { makeRedisStore } from "@agora/readmodels/testing"
import * as Amqp from "amqplib"
import { Effect } from "effect"

export const redisUrl = process.env.REDIS_URL ?? ""
export const amqpUrl = process.env.AMQP_URL ?? ""

/** The groups the server subscribes with (the shipping inbox, the shipping simulator). */
const serverGroups = ["agora-shipping-inbox", "shipping-simulator"]

/** Redis env for a scenario on `url` (the machine's by default): fresh prefixes, keys deleted with the scope. */
export const redis = (label: string, url: string = redisUrl) =>
  Effect.gen(function* () {
    if (url === "") return { REDIS_URL: "" }
    const prefix = `agora-chaos:${label}:${randomUUID()}:`
    // Its finalizer deletes every key under the prefix, read models and rate limits alike.
    yield* makeRedisStore(url, prefix)
    return { REDIS_URL: url, READ_MODEL_PREFIX: `${prefix}rm:`, RATE_LIMIT_REDIS_PREFIX: `${prefix}rl:` }
  })

export interface Rabbit {
  readonly exchange: string
  /** Groups of the test's own (a tap) whose queues are deleted too. */
  readonly groups: Set<string>
}

/** A fresh exchange on the machine's RabbitMQ; its queues and itself deleted with the scope. */
export const rabbit = (label: string) =>
  Effect.acquireRelease(
    Effect.sync((): Rabbit => ({ exchange: `agora-chaos-${label}-${randomUUID()}`, groups: new Set(serverGroups) })),
    ({ exchange, groups }) =>
      Effect.promise(async () => {
        const connection = await Amqp.connect(amqpUrl)
        try {
          const channel = await connection.createChannel()
          channel.on("error", () => {})
          for (const group of groups) await channel.deleteQueue(RabbitMqBroker.queueName(exchange, group))
          await channel.deleteExchange(exchange)
        } finally {
          await connection.close().catch(() => undefined)
        }
      }).pipe(Effect.ignore)
  )
