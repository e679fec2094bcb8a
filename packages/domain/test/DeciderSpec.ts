/**
 * Given/when/then for deciders: given past events, when a command, then
 * exactly these events, exactly this typed error, or nothing at all.
 *
 *   DeciderSpec.for(Order).given([placed]).when(new MarkOrderReserved(…)).then([reserved])
 *
 * Errors are compared by class and by every field: chai's deep equality looks
 * only at an Error's name and message, which would let a wrong field pass.
 */
import { assert } from "@effect/vitest"
import { Result } from "effect"
import { type Decider, fold } from "../src/Decider.ts"

export interface When<Command, Event, State, Error> {
  readonly when: (command: Command) => Then<Event, State, Error>
}

export interface Then<Event, State, Error> {
  /** The command records exactly these events; returns the state after them. */
  readonly then: (expected: ReadonlyArray<Event>) => State
  /** The command is refused with exactly this error. */
  readonly thenFails: (expected: Error) => void
  /** The command is accepted and records nothing (an idempotent repeat). */
  readonly thenNothing: () => void
}

const errorFields = (error: unknown): unknown => (typeof error === "object" && error !== null ? { ...error } : error)

const spec = <Command, Event, State, Error>(
  decider: Decider<Command, Event, State, Error>,
  history: ReadonlyArray<Event>
): When<Command, Event, State, Error> => ({
  when: (command) => {
    const state = fold(decider, decider.initialState, history)
    const result = decider.decide(command, state)
    const events = (): ReadonlyArray<Event> => {
      if (Result.isFailure(result)) assert.fail(`expected events, got the error ${String(result.failure)}`)
      return result.success
    }
    return {
      // biome-ignore lint/suspicious/noThenProperty: given/when/then is the vocabulary of the spec
      then: (expected) => {
        const actual = events()
        assert.deepStrictEqual(actual, expected)
        return fold(decider, state, actual)
      },
      thenFails: (expected) => {
        if (Result.isSuccess(result)) {
          assert.fail(`expected the error ${String(expected)}, got ${result.success.length} event(s)`)
        }
        const actual = result.failure
        assert.strictEqual((actual as object).constructor, (expected as object).constructor)
        assert.deepStrictEqual(errorFields(actual), errorFields(expected))
      },
      thenNothing: () => {
        assert.deepStrictEqual(events(), [])
      }
    }
  }
})

export const DeciderSpec = {
  for: <Command, Event, State, Error>(decider: Decider<Command, Event, State, Error>) => ({
    given: (events: ReadonlyArray<Event>): When<Command, Event, State, Error> => spec(decider, events),
    when: (command: Command): Then<Event, State, Error> => spec(decider, []).when(command)
  })
}
