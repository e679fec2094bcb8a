/**
 * The shape every aggregate has: a pure decider. `decide` turns a command and
 * the current state into new events or a typed error; `evolve` folds one event
 * into the state. Both are synchronous, total and free of IO: ids and
 * timestamps arrive on the command. The actor runtime hosts any `Aggregate`.
 */
import type { Result, Schema } from "effect"

export interface Decider<Command, Event, State, Error> {
  readonly initialState: State
  readonly decide: (command: Command, state: State) => Result.Result<ReadonlyArray<Event>, Error>
  readonly evolve: (state: State, event: Event) => State
}

/**
 * A decider with what the runtime needs to persist it: its stream naming, the
 * codec of its events (the persisted contract; an event's `_tag` is its stored
 * type) and of its state (for snapshots, versioned so a changed state shape
 * ignores old snapshots). The codecs of its commands and of its typed errors
 * let a command run on another node (the cluster actor runtime) and its
 * refusal come back typed.
 */
export interface Aggregate<Command, Event extends { readonly _tag: string }, State, Error>
  extends Decider<Command, Event, State, Error> {
  /** The stream type, e.g. "order": stream ids are `order-<id>`. */
  readonly type: string
  readonly commandSchema: Schema.Codec<Command, unknown>
  /** Every typed error `decide` can return. */
  readonly errorSchema: Schema.Codec<Error, unknown>
  readonly eventSchema: Schema.Codec<Event, unknown>
  readonly stateSchema: Schema.Codec<State, unknown>
  /** Bump when the state's shape changes: older snapshots are then ignored. */
  readonly stateVersion: number
}

/** The stream id of an aggregate instance. */
export const streamId = (aggregate: { readonly type: string }, id: string): string => `${aggregate.type}-${id}`

/** Folds events into a state. */
export const fold = <Event, State>(
  decider: Pick<Decider<unknown, Event, State, unknown>, "evolve">,
  state: State,
  events: Iterable<Event>
): State => {
  let s = state
  for (const e of events) s = decider.evolve(s, e)
  return s
}
