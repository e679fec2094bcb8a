/**
 * The actor runtime port. Each aggregate instance, addressed by its aggregate
 * and id, is an actor: its commands run one at a time against state kept in
 * memory between commands. Correctness never rests on there being one process:
 * every append carries the version the actor holds, and a conflict makes the
 * actor catch up and decide again (ADR 0003).
 */
import type { Aggregate } from "@agora/domain"
import type { EventStoreError } from "@agora/eventstore"
import { Context, Effect, Schema } from "effect"

/** Where a command comes from, carried into the metadata of the events it causes. */
export interface CommandContext {
  /** Makes the command idempotent: its events get ids derived from it, so a retry appends nothing twice. */
  readonly commandId?: string
  readonly correlationId?: string
  readonly causationId?: string
  /**
   * The caller made this instance's id just now (or derived it from one made
   * just now): the instance most likely has no events yet, and is not read
   * before the command is decided. Should it have events after all, its
   * append conflicts (or its refusal is checked against its stream) and the
   * command is decided again on what is stored: a wrong guess costs a
   * retry, never a wrong answer. `sendTogether` takes it per part instead
   * (`Part.expectNew`).
   */
  readonly expectNew?: boolean
}

/** How a state read may be answered (`ActorRuntime.state`). */
export interface StateOptions<S> {
  readonly acceptStale?: (state: S) => boolean
}

/** What a command did. */
export interface CommandResult<Event, State> {
  readonly events: ReadonlyArray<Event>
  /** The stream version after the command. */
  readonly version: number
  readonly state: State
  /** The global position of the last event written (undefined when nothing was written). */
  readonly position: number | undefined
}

/** A command's outcome without the state: what `sendWithoutState` answers. */
export type CommandOutcome<Event> = Omit<CommandResult<Event, never>, "state">

/** The outcome of a result: its state left out. */
export const outcomeOf = <Event, State>({
  events,
  version,
  position
}: CommandResult<Event, State>): CommandOutcome<Event> => ({
  events,
  version,
  position
})

/**
 * Where the writes of the current request are noted: every command that
 * writes events raises it to the global position of its last event. The HTTP
 * edge provides one per request and answers it as `X-Position`, which a client
 * passes back as `min_position` to read its own writes from the read models.
 * Outside a request (the default) nothing is noted.
 */
export interface WrittenPositionCell {
  position: number | undefined
}

export const WrittenPosition: Context.Reference<WrittenPositionCell | undefined> = Context.Reference(
  "@agora/actors/WrittenPosition",
  { defaultValue: (): WrittenPositionCell | undefined => undefined }
)

/** Notes a write's position in the current request's cell, if there is one. */
export const noteWrite = (position: number | undefined): Effect.Effect<void> =>
  position === undefined
    ? Effect.void
    : Effect.map(Effect.service(WrittenPosition), (cell) => {
        if (cell !== undefined && (cell.position === undefined || cell.position < position)) cell.position = position
      })

/**
 * The request being served under an `Idempotency-Key` (SPEC §6), named by its
 * caller, route and key. While it is set, a command sent without a
 * `commandId` of its own gets one derived from that name and from how many
 * commands the request sent to the same stream before; so a keyed request
 * that runs a second time (its first run committed, then the process died
 * before the answer was stored) appends nothing twice, and writes under ids
 * it derives from `name` (a new order's id) land on what the first run wrote.
 */
export interface KeyedRequestCell {
  readonly name: string
  readonly sent: Map<string, number>
}

export const KeyedRequest: Context.Reference<KeyedRequestCell | undefined> = Context.Reference(
  "@agora/actors/KeyedRequest",
  { defaultValue: (): KeyedRequestCell | undefined => undefined }
)

/** A fresh cell for the keyed request `name`. */
export const keyedRequest = (name: string): KeyedRequestCell => ({ name, sent: new Map() })

/** The command id of the next command to `streams` in the current keyed request; undefined outside one. */
export const keyedCommandId = (streams: string): Effect.Effect<string | undefined> =>
  Effect.map(Effect.service(KeyedRequest), (cell) => {
    if (cell === undefined) return undefined
    const n = cell.sent.get(streams) ?? 0
    cell.sent.set(streams, n + 1)
    return `${cell.name}#${streams}#${n}`
  })

/** The command context with the keyed request's command id when it has none of its own. */
export const withKeyedCommandId = (streams: string, context: CommandContext): Effect.Effect<CommandContext> =>
  context.commandId !== undefined
    ? Effect.succeed(context)
    : Effect.map(keyedCommandId(streams), (commandId) =>
        commandId === undefined ? context : { ...context, commandId }
      )

/** Another writer kept winning the race for the stream; the command was not applied. */
export class ConcurrencyConflict extends Schema.TaggedError<ConcurrencyConflict>()("ConcurrencyConflict", {
  streamId: Schema.String,
  attempts: Schema.Number
}) {}

export type ActorError = ConcurrencyConflict | EventStoreError

/** One instance's part of a command that spans several aggregates. */
export interface Part<C, E extends { readonly _tag: string }, S, Err> {
  readonly aggregate: Aggregate<C, E, S, Err>
  readonly id: string
  readonly command: C
  /** This part's instance most likely has no events yet (see `CommandContext.expectNew`). */
  readonly expectNew?: boolean
}

// biome-ignore lint/suspicious/noExplicitAny: matches a part of any aggregate; the mapped types below recover each one
type AnyPart = Part<any, any, any, any>
type ResultOf<P> = P extends Part<infer _C, infer E, infer S, infer _Err> ? CommandResult<E, S> : never
type ErrorOf<P> = P extends Part<infer _C, infer _E, infer _S, infer Err> ? Err : never

/** Builds a part with its types inferred from the aggregate. */
export const part = <C, E extends { readonly _tag: string }, S, Err>(
  aggregate: Aggregate<C, E, S, Err>,
  id: string,
  command: C,
  options?: { readonly expectNew?: boolean }
): Part<C, E, S, Err> =>
  options?.expectNew === true ? { aggregate, id, command, expectNew: true } : { aggregate, id, command }

export class ActorRuntime extends Context.Service<
  ActorRuntime,
  {
    /** Sends a command to the instance `id` of `aggregate` and waits for its outcome. */
    readonly send: <C, E extends { readonly _tag: string }, S, Err>(
      aggregate: Aggregate<C, E, S, Err>,
      id: string,
      command: C,
      context?: CommandContext
    ) => Effect.Effect<CommandResult<E, S>, Err | ActorError>
    /**
     * `send`, for a caller that needs the outcome (events, version, position)
     * and not the state after it: on a cluster, an instance on another node
     * then answers without encoding its whole state (a SKU's open reservations,
     * an account's recent debits) for the trip back.
     */
    readonly sendWithoutState: <C, E extends { readonly _tag: string }, S, Err>(
      aggregate: Aggregate<C, E, S, Err>,
      id: string,
      command: C,
      context?: CommandContext
    ) => Effect.Effect<CommandOutcome<E>, Err | ActorError>
    /**
     * Runs one command on each of several instances and writes all their events
     * in one transaction: every part is applied, or none (the first part's error
     * in order answers). For invariants that span aggregates, such as a unique
     * email claimed together with the user's registration.
     */
    readonly sendTogether: <const P extends ReadonlyArray<AnyPart>>(
      parts: P,
      context?: CommandContext
    ) => Effect.Effect<{ readonly [K in keyof P]: ResultOf<P[K]> }, ErrorOf<P[number]> | ActorError>
    /**
     * The current state of an instance (activating it if needed), without a
     * command. `options.acceptStale`: a state in memory for which it holds is
     * answered as it is, without first catching up with others' appends —
     * for reads of what never changes once set (a product's name and price).
     */
    readonly state: <C, E extends { readonly _tag: string }, S, Err>(
      aggregate: Aggregate<C, E, S, Err>,
      id: string,
      options?: StateOptions<S>
    ) => Effect.Effect<{ readonly state: S; readonly version: number }, ActorError>
    /** How many instances are resident. */
    readonly residentCount: Effect.Effect<number>
  }
>()("@agora/actors/ActorRuntime") {}
