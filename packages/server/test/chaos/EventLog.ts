/**
 * The truth the checks compare everything with: the scenario's event store
 * read straight from its `events` table (not through the server), every
 * stream folded by its aggregate's own decider, as the actors would fold it.
 * Also the outbox and inbox tables, and a promise-level SQL handle on the
 * scenario's database for the driver.
 */
import {
  type Aggregate,
  Fulfilment,
  fold,
  InventoryItem,
  Order,
  Payment,
  PaymentAccount,
  Shipment
} from "@agora/domain"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"

/** Queries on one database, from plain async code. */
export interface Sql {
  readonly query: <A extends object>(text: string, params?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<A>>
  readonly close: () => Promise<void>
}

export const connect = (url: string): Sql => {
  const runtime = ManagedRuntime.make(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 }).pipe(Layer.orDie))
  return {
    query: <A extends object>(text: string, params: ReadonlyArray<unknown> = []) =>
      runtime.runPromise(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(text, [...params])).pipe(Effect.orDie)
      ),
    close: () => runtime.dispose()
  }
}

export interface StoredEvent {
  readonly position: number
  readonly streamId: string
  readonly streamType: string
  readonly version: number
  readonly type: string
  readonly data: Record<string, unknown>
}

/** Every aggregate instance, folded from its stream. */
export interface World {
  /** The log's last position. */
  readonly head: number
  readonly streams: ReadonlyMap<string, ReadonlyArray<StoredEvent>>
  readonly orders: ReadonlyMap<string, Order.PlacedOrder>
  readonly sagas: ReadonlyMap<string, Fulfilment.FulfilmentState>
  readonly payments: ReadonlyMap<string, Payment.PaymentState>
  readonly shipments: ReadonlyMap<string, Shipment.ShipmentState>
  readonly inventory: ReadonlyMap<string, InventoryItem.InventoryState>
  readonly accounts: ReadonlyMap<string, PaymentAccount.PaymentAccountState>
}

const folder = <C, E extends { readonly _tag: string }, S, Err>(aggregate: Aggregate<C, E, S, Err>) => {
  const decode = Schema.decodeUnknownSync(aggregate.eventSchema)
  return (events: ReadonlyArray<StoredEvent>): S =>
    fold(
      aggregate,
      aggregate.initialState,
      events.map((e) => decode({ ...e.data, _tag: e.type }))
    )
}

const foldOrder = folder(Order.Order)
const foldSaga = folder(Fulfilment.Fulfilment)
const foldPayment = folder(Payment.Payment)
const foldShipment = folder(Shipment.Shipment)
const foldInventory = folder(InventoryItem.InventoryItem)
const foldAccount = folder(PaymentAccount.PaymentAccount)

/** Reads the whole log and folds every stream the checks look at. */
export const read = async (sql: Sql): Promise<World> => {
  const rows = await sql.query<{
    position: string
    stream_id: string
    stream_type: string
    version: string
    event_type: string
    data: Record<string, unknown>
  }>("SELECT position, stream_id, stream_type, version, event_type, data FROM events ORDER BY position")
  const streams = new Map<string, Array<StoredEvent>>()
  for (const row of rows) {
    const event: StoredEvent = {
      position: Number(row.position),
      streamId: row.stream_id,
      streamType: row.stream_type,
      version: Number(row.version),
      type: row.event_type,
      data: row.data
    }
    const stream = streams.get(event.streamId)
    if (stream === undefined) streams.set(event.streamId, [event])
    else stream.push(event)
  }
  const orders = new Map<string, Order.PlacedOrder>()
  const sagas = new Map<string, Fulfilment.FulfilmentState>()
  const payments = new Map<string, Payment.PaymentState>()
  const shipments = new Map<string, Shipment.ShipmentState>()
  const inventory = new Map<string, InventoryItem.InventoryState>()
  const accounts = new Map<string, PaymentAccount.PaymentAccountState>()
  for (const [streamId, events] of streams) {
    const type = events[0]!.streamType
    const id = streamId.slice(type.length + 1)
    switch (type) {
      case Order.Order.type: {
        const state = foldOrder(events)
        if (state._tag !== "NoOrder") orders.set(id, state)
        break
      }
      case Fulfilment.Fulfilment.type:
        sagas.set(id, foldSaga(events))
        break
      case Payment.Payment.type:
        payments.set(id, foldPayment(events))
        break
      case Shipment.Shipment.type:
        shipments.set(id, foldShipment(events))
        break
      case InventoryItem.InventoryItem.type:
        inventory.set(id, foldInventory(events))
        break
      case PaymentAccount.PaymentAccount.type:
        accounts.set(id, foldAccount(events))
        break
    }
  }
  return {
    head: rows.length === 0 ? 0 : Number(rows.at(-1)!.position),
    streams,
    orders,
    sagas,
    payments,
    shipments,
    inventory,
    accounts
  }
}

/** Outbox rows not published yet. */
export const outboxBacklog = async (sql: Sql): Promise<number> =>
  Number((await sql.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"))[0]?.n ?? 0)

/** Messages the shipping inbox parked, with why. */
export const deadLetters = (sql: Sql) =>
  sql.query<{ topic: string; reason: string; value: string }>(
    "SELECT topic, reason, value FROM dead_letters ORDER BY id"
  )
