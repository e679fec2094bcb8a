/**
 * The property harness shared by every aggregate: run a generated command
 * sequence through `decide` and `evolve` as the actor runtime would, and check
 * after every event that the aggregate's invariants hold, that duplicates of
 * an accepted command record nothing (where the aggregate promises it), that
 * events and states survive the JSON round trip of the event store and of
 * snapshots, and that a snapshot plus the later events rebuild the same state.
 */
import { assert } from "@effect/vitest"
import { DateTime, Result, Schema } from "effect"
import fc from "fast-check"
import { type Aggregate, fold } from "../src/Decider.ts"

export interface PropertyOptions<Command, Event, State> {
  /** Checked after each event, with every event recorded so far (the new one last). */
  readonly invariant: (state: State, events: ReadonlyArray<Event>) => void
  /** Commands that, once accepted, record nothing when sent again. */
  readonly idempotent?: (command: Command) => boolean
  readonly numRuns?: number
}

/** Timestamps within a few days of a fixed start. */
export const arbitraryAt: fc.Arbitrary<DateTime.Utc> = fc
  .integer({ min: 0, max: 5 * 24 * 60 })
  .map((minute) => DateTime.makeUnsafe(Date.UTC(2026, 2, 1) + minute * 60_000))

const jsonRoundTrip = <T>(schema: Schema.Codec<T, unknown>, value: T): T =>
  Schema.decodeUnknownSync(schema)(JSON.parse(JSON.stringify(Schema.encodeSync(schema)(value))))

/** Runs `commands` from the initial state; returns every event recorded and the final state. */
export const run = <Command, Event extends { readonly _tag: string }, State, Error>(
  aggregate: Aggregate<Command, Event, State, Error>,
  commands: ReadonlyArray<Command>,
  options: PropertyOptions<Command, Event, State>
): { readonly events: ReadonlyArray<Event>; readonly state: State } => {
  let state = aggregate.initialState
  const events: Array<Event> = []
  for (const command of commands) {
    const decision = aggregate.decide(command, state)
    if (Result.isFailure(decision)) {
      assert.isString((decision.failure as { readonly _tag?: unknown })._tag, "errors are tagged")
      continue
    }
    for (const event of decision.success) {
      state = aggregate.evolve(state, event)
      events.push(event)
      options.invariant(state, events)
    }
    if (decision.success.length > 0 && options.idempotent?.(command)) {
      assert.deepStrictEqual(aggregate.decide(command, state), Result.succeed([]), `a repeated ${String(command)}`)
    }
  }
  return { events, state }
}

/** The property: invariants, idempotence, fold, JSON round trips and snapshot + tail, over generated sequences. */
export const checkAggregate = <Command, Event extends { readonly _tag: string }, State, Error>(
  aggregate: Aggregate<Command, Event, State, Error>,
  commands: fc.Arbitrary<ReadonlyArray<Command>>,
  options: PropertyOptions<Command, Event, State>
): void =>
  fc.assert(
    fc.property(commands, fc.nat(), (sequence, cut) => {
      const { events, state } = run(aggregate, sequence, options)
      assert.deepStrictEqual(fold(aggregate, aggregate.initialState, events), state)
      const stored = events.map((event) => jsonRoundTrip(aggregate.eventSchema, event))
      assert.deepStrictEqual(stored, events)
      assert.deepStrictEqual(jsonRoundTrip(aggregate.stateSchema, state), state)
      const at = events.length === 0 ? 0 : cut % (events.length + 1)
      const snapshot = jsonRoundTrip(
        aggregate.stateSchema,
        fold(aggregate, aggregate.initialState, stored.slice(0, at))
      )
      assert.deepStrictEqual(fold(aggregate, snapshot, stored.slice(at)), state)
    }),
    { numRuns: options.numRuns ?? 1000 }
  )

/** Sequences of up to `max` commands. */
export const sequences = <Command>(command: fc.Arbitrary<Command>, max = 40) =>
  fc.array(command, { minLength: 1, maxLength: max, size: "max" })

/** Counts events of one tag matching a predicate. */
export const count = <Event extends { readonly _tag: string }>(
  events: ReadonlyArray<Event>,
  predicate: (event: Event) => boolean
): number => events.reduce((n, event) => (predicate(event) ? n + 1 : n), 0)
