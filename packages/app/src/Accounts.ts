/**
 * The caller's payment account (internal wallet): open, read, top up, and the
 * ledger. Each top-up carries an id of its own (the ledger entry's), sent as
 * its command id, so a retried top-up appends nothing twice. Reads — the
 * balance and the ledger, newest first — come from the `accounts` read model
 * (`readmodels/AccountViews`); a missing balance is folded from the event
 * store, and with the read-model store down the ledger is read from the
 * account's stream, backwards, a page at a time.
 */
import { ActorRuntime, KeyedRequest } from "@agora/actors"
import { type Money, PaymentAccount, streamId } from "@agora/domain"
import { EventStore, Uuid } from "@agora/eventstore"
import { Config, Context, DateTime, Effect, Layer, Schema } from "effect"
import * as AccountViews from "./readmodels/AccountViews.ts"
import * as ReadThrough from "./readmodels/ReadThrough.ts"

export interface AccountView {
  readonly userId: string
  readonly balance: Money.Money
  readonly currency: string
}

export interface LedgerPage {
  readonly entries: ReadonlyArray<PaymentAccount.LedgerEntry>
  readonly nextCursor: string | null
}

/** A failure of the store or runtime, not of the request: the API answers 503. */
export class UnexpectedAccountError extends Schema.TaggedError<UnexpectedAccountError>()("UnexpectedAccountError", {
  cause: Schema.Defect()
}) {}

export class Accounts extends Context.Service<
  Accounts,
  {
    readonly open: (
      userId: string
    ) => Effect.Effect<AccountView, PaymentAccount.AccountAlreadyOpen | UnexpectedAccountError>
    readonly get: (
      userId: string
    ) => Effect.Effect<AccountView, PaymentAccount.AccountNotFound | UnexpectedAccountError>
    readonly topUp: (
      userId: string,
      amount: Money.Money,
      txId?: string
    ) => Effect.Effect<
      AccountView,
      PaymentAccount.AccountNotFound | PaymentAccount.InvalidAmount | UnexpectedAccountError
    >
    /** Newest first; the cursor is opaque. */
    readonly ledger: (
      userId: string,
      page: { readonly limit: number; readonly cursor: string | undefined }
    ) => Effect.Effect<LedgerPage, PaymentAccount.AccountNotFound | UnexpectedAccountError>
  }
>()("@agora/app/Accounts") {}

const viewOf = (state: PaymentAccount.PaymentAccountState, userId: string) =>
  state._tag === "Account"
    ? Effect.succeed({ userId: state.userId, balance: state.balance, currency: state.currency })
    : Effect.fail(new PaymentAccount.AccountNotFound({ userId }))

/** The version of an account's first money movement (version 1 is its opening). */
const firstMovement = 2

export const make = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const store = yield* EventStore
  const currency = yield* Config.String("DEFAULT_CURRENCY").pipe(Config.withDefault("RUB"))
  const reads = yield* ReadThrough.make
  const unexpected = (cause: unknown) => Effect.fail(new UnexpectedAccountError({ cause }))
  const infrastructure = { ConcurrencyConflict: unexpected, EventStoreError: unexpected } as const
  // Errors the domain can raise for other commands, never for the one sent: a bug if seen.
  const impossible = {
    AccountAlreadyOpen: unexpected,
    InsufficientFunds: unexpected,
    NothingToRefund: unexpected
  } as const

  const open = Effect.fn("Accounts.open")(function* (userId: string) {
    const at = yield* DateTime.now
    const result = yield* actors
      .send(PaymentAccount.PaymentAccount, userId, new PaymentAccount.OpenAccount({ userId, currency, at }))
      .pipe(
        Effect.catchTags({
          ...infrastructure,
          AccountNotFound: unexpected,
          InvalidAmount: unexpected,
          InsufficientFunds: unexpected,
          NothingToRefund: unexpected
        })
      )
    const state = result.state
    if (state._tag !== "Account") return yield* new UnexpectedAccountError({ cause: "no account after opening it" })
    return { userId: state.userId, balance: state.balance, currency: state.currency }
  })

  const state = (userId: string) =>
    actors.state(PaymentAccount.PaymentAccount, userId).pipe(Effect.catchTags(infrastructure))

  const readAccount = (userId: string) =>
    reads.readOne({
      projection: AccountViews.name,
      codec: AccountViews.codec,
      ttlSeconds: AccountViews.ttlSeconds,
      key: AccountViews.accountKey(userId),
      fold: Effect.map(state(userId), ({ state, version }) =>
        state._tag === "Account"
          ? { version, value: { userId: state.userId, balance: state.balance, currency: state.currency } }
          : undefined
      )
    })

  const get = Effect.fn("Accounts.get")(function* (userId: string) {
    const doc = yield* readAccount(userId)
    if (doc === undefined) return yield* new PaymentAccount.AccountNotFound({ userId })
    return doc.value
  })

  const topUp = Effect.fn("Accounts.topUp")(function* (userId: string, amount: Money.Money, txId?: string) {
    const at = yield* DateTime.now
    // Under an Idempotency-Key the transaction is the key's: a run of the same request after a crash is this top-up.
    const keyed = yield* KeyedRequest
    const id = txId ?? (keyed === undefined ? Uuid.v7() : Uuid.fromName(`${keyed.name}/top-up`))
    const result = yield* actors
      .send(
        PaymentAccount.PaymentAccount,
        userId,
        new PaymentAccount.TopUpAccount({ userId, txId: id, amount, at }),
        // A retry under the same transaction id appends nothing twice: its events get the same ids.
        { commandId: `top-up/${id}` }
      )
      .pipe(Effect.catchTags({ ...infrastructure, ...impossible }))
    return yield* viewOf(result.state, userId)
  })

  const decodeEvent = Schema.decodeUnknownEffect(PaymentAccount.PaymentAccountEvent)

  // The ledger is the account's stream (version 1 opens it; every later event is a movement), read backwards
  // a page at a time: the cursor is the version below which the next page starts.
  /** The ledger from the read model, newest first; `undefined` when the store is down. */
  const ledgerFromReadModel = (userId: string, before: number, limit: number) =>
    reads.store
      .indexRange({ projection: AccountViews.name }, AccountViews.ledgerKey(userId), {
        order: "desc",
        below: before,
        limit: limit + 1
      })
      .pipe(
        Effect.flatMap((found) =>
          Effect.forEach(found.slice(0, limit), (entry) =>
            Effect.try({
              try: () => AccountViews.ledgerEntryCodec.decode(entry.member),
              catch: (cause) => new UnexpectedAccountError({ cause })
            })
          ).pipe(
            Effect.map((entries) => {
              const last = found.slice(0, limit).at(-1)
              return {
                entries,
                nextCursor: found.length > limit && last !== undefined ? String(last.score) : null
              }
            })
          )
        ),
        Effect.catchTag("ReadModelError", (error) => Effect.as(reads.storeDown(error), undefined))
      )

  const ledger = Effect.fn("Accounts.ledger")(function* (
    userId: string,
    page: { readonly limit: number; readonly cursor: string | undefined }
  ) {
    const account = yield* readAccount(userId)
    if (account === undefined) return yield* new PaymentAccount.AccountNotFound({ userId })
    const cursor = page.cursor === undefined ? Number.MAX_SAFE_INTEGER : Number(page.cursor)
    if (!Number.isSafeInteger(cursor) || cursor <= firstMovement) return { entries: [], nextCursor: null }
    const fromReadModel = yield* ledgerFromReadModel(userId, cursor, page.limit)
    if (fromReadModel !== undefined) return fromReadModel
    return yield* ledgerFromStream(userId, page)
  })

  // The store is down: the ledger is the account's stream, read backwards a page at a time.
  const ledgerFromStream = Effect.fn("Accounts.ledgerFromStream")(function* (
    userId: string,
    page: { readonly limit: number; readonly cursor: string | undefined }
  ) {
    const { state: account, version } = yield* state(userId)
    if (account._tag !== "Account") return yield* new PaymentAccount.AccountNotFound({ userId })
    const before = page.cursor === undefined ? version + 1 : Number(page.cursor)
    if (!Number.isSafeInteger(before) || before <= firstMovement) return { entries: [], nextCursor: null }
    const from = Math.max(firstMovement, Math.min(before, version + 1) - page.limit)
    const recorded = yield* store
      .readStream(streamId(PaymentAccount.PaymentAccount, userId), { fromVersion: from, maxCount: before - from })
      .pipe(Effect.catch(unexpected))
    const entries: Array<PaymentAccount.LedgerEntry> = []
    for (const r of [...recorded].reverse()) {
      const event = yield* decodeEvent({ ...(r.data as object), _tag: r.type }).pipe(Effect.catch(unexpected))
      const entry = PaymentAccount.ledgerEntryOf(event)
      if (entry !== undefined) entries.push(entry)
    }
    return { entries, nextCursor: from > firstMovement ? String(from) : null }
  })

  return Accounts.of({ open, get, topUp, ledger })
})

export const layer = Layer.effect(Accounts, make)
