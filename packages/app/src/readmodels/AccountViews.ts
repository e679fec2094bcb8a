/**
 * The `accounts` projection: each payment account's balance
 * (`account:<userId>`, kept for 5 minutes after its last change) and its
 * ledger (`ledger:<userId>`, every money movement scored by its stream
 * version, complete: it never expires). Each movement event carries the
 * balance after it, so the balance needs no arithmetic here.
 */
import { Money, PaymentAccount } from "@agora/domain"
import { applyToDoc, type Projection } from "@agora/readmodels"
import { Schema } from "effect"
import { eventDecoder, idOf, isPoison, schemaCodec } from "./StreamEvents.ts"

export const name = "accounts"

export const ttlSeconds = 300

export const accountKey = (userId: string): string => `account:${userId}`
export const ledgerKey = (userId: string): string => `ledger:${userId}`

/** What the account document holds. */
export const AccountDoc = Schema.Struct({ userId: Schema.String, balance: Money.Money, currency: Schema.String })
export type AccountDoc = typeof AccountDoc.Type

export const codec = schemaCodec(AccountDoc)

/** Ledger entries are stored as the JSON of their encoded form. */
export const ledgerEntryCodec = schemaCodec(PaymentAccount.LedgerEntry)

const decodeEvent = eventDecoder(PaymentAccount.PaymentAccount)

export const projection: Projection = {
  name,
  handles: (event) => event.streamType === PaymentAccount.PaymentAccount.type,
  docKeys: (event) => [accountKey(idOf(event))],
  apply: (recorded, context) => {
    const event = decodeEvent(recorded)
    if (isPoison(event)) return event
    const userId = idOf(recorded)
    const entry = PaymentAccount.ledgerEntryOf(event)
    if (entry !== undefined) context.indexAdd(ledgerKey(userId), recorded.version, ledgerEntryCodec.encode(entry))
    applyToDoc(context, accountKey(userId), recorded, codec, {
      create: () =>
        event._tag === "AccountOpened"
          ? { userId: event.userId, balance: 0 as Money.Money, currency: event.currency }
          : undefined,
      evolve: (doc) => (entry === undefined ? doc : { ...doc, balance: entry.balanceAfter }),
      ttlSeconds
    })
    return undefined
  }
}
