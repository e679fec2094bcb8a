/**
 * The checks every adapter makes on `subscribe`'s options before touching a
 * broker, so that a mistake fails the same way everywhere.
 */
import { Effect } from "effect"
import { BrokerError, type SubscribeOptions, type Topic } from "../Broker.ts"

export interface ValidSubscription {
  readonly group: string
  /** The topics, each once. */
  readonly topics: ReadonlyArray<Topic>
  readonly concurrency: number
}

export const validate = (options: SubscribeOptions): Effect.Effect<ValidSubscription, BrokerError> => {
  const concurrency = options.concurrency ?? 1
  const problem =
    options.group.trim() === ""
      ? "the group must not be empty"
      : options.topics.length === 0
        ? "at least one topic is needed"
        : !Number.isInteger(concurrency) || concurrency < 1
          ? `concurrency must be a whole number ≥ 1, not ${concurrency}`
          : undefined
  return problem === undefined
    ? Effect.succeed({ group: options.group, topics: [...new Set(options.topics)], concurrency })
    : Effect.fail(new BrokerError({ operation: "subscribe", cause: new Error(problem) }))
}
