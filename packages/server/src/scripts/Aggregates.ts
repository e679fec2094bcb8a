/**
 * Every aggregate whose streams the event store holds, found by stream type
 * (the stream id up to its first `-`), so a script can decode and fold any
 * stream. A new aggregate must be added here, or the scripts call its streams
 * unknown.
 */
import {
  type Aggregate,
  EmailClaim,
  Fulfilment,
  InventoryItem,
  normaliseEmail,
  Order,
  Payment,
  PaymentAccount,
  Shipment,
  User
} from "@agora/domain"

// biome-ignore lint/suspicious/noExplicitAny: the registry holds aggregates of every type; scripts only decode and fold
export type AnyAggregate = Aggregate<any, any, any, any>

/** An aggregate with a name for people (the stream type is not always the aggregate's name). */
export interface Entry {
  readonly name: string
  readonly aggregate: AnyAggregate
}

export const all: ReadonlyArray<Entry> = [
  { name: "order", aggregate: Order.Order },
  { name: "payment account", aggregate: PaymentAccount.PaymentAccount },
  { name: "payment", aggregate: Payment.Payment },
  { name: "shipment", aggregate: Shipment.Shipment },
  { name: "inventory item", aggregate: InventoryItem.InventoryItem },
  { name: "user", aggregate: User.User },
  { name: "email claim", aggregate: EmailClaim.EmailClaim },
  { name: "fulfilment saga", aggregate: Fulfilment.Fulfilment }
]

/** Other names people type for a stream type. */
const aliases: Readonly<Record<string, string>> = {
  "payment-account": "account",
  wallet: "account",
  "inventory-item": "inventory",
  item: "inventory",
  "email-claim": "email",
  saga: "fulfilment"
}

/** The stream types, for messages. */
export const streamTypes: ReadonlyArray<string> = all.map((a) => a.aggregate.type)

/** The aggregate of a stream type (or one of its aliases). */
export const byType = (type: string): Entry | undefined => {
  const wanted = aliases[type.toLowerCase()] ?? type.toLowerCase()
  return all.find((a) => a.aggregate.type === wanted)
}

/** The id as it appears in the stream id: emails are claimed in their normalised form. */
export const canonicalId = (aggregate: AnyAggregate, id: string): string =>
  aggregate === EmailClaim.EmailClaim ? normaliseEmail(id) : id
