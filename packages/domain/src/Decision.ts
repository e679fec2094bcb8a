/**
 * What `decide` returns, spelled so deciders read as the rules they encode:
 * `accept(event)`, `ignore` (an idempotent repeat: nothing to record) or
 * `reject(error)`.
 */
import { Result } from "effect"

export type Decision<Event, Error> = Result.Result<ReadonlyArray<Event>, Error>

/** Record these events. */
export const accept = <Event>(...events: ReadonlyArray<Event>): Decision<Event, never> => Result.succeed(events)

/** Nothing to record: the command's effect already happened. */
export const ignore: Decision<never, never> = Result.succeed([])

/** Refuse with a typed error. */
export const reject = <Error>(error: Error): Decision<never, Error> => Result.fail(error)
