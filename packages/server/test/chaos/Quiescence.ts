/**
 * Waiting, bounded, for the system to come to rest once the load stopped:
 * every order SHIPPED or CANCELLED with its saga finished (no late refund
 * owed), the outbox drained, and the log quiet for a moment (a late provider
 * callback or a redelivered message would still move something). What is
 * still open at the deadline is returned, for the checks to report.
 */
import type { Sql } from "./EventLog.ts"

export interface Rest {
  readonly reached: boolean
  readonly openOrders: number
  readonly openSagas: number
  readonly backlog: number
  /** The log's last position. */
  readonly head: number
  readonly waitedMs: number
}

const snapshot = async (sql: Sql) => {
  const [row] = await sql.query<{ open_orders: string; open_sagas: string; backlog: string; head: string }>(`
    SELECT
      (SELECT count(*) FROM (
         SELECT stream_id FROM events WHERE stream_type = 'order' GROUP BY stream_id
         HAVING NOT bool_or(event_type IN ('OrderShipped', 'OrderCancelled', 'OrderDelivered'))) o) AS open_orders,
      (SELECT count(*) FROM (
         SELECT stream_id FROM events WHERE stream_type = 'fulfilment' GROUP BY stream_id
         HAVING NOT bool_or(event_type IN ('FulfilmentShipped', 'FulfilmentCancelled'))
             OR (bool_or(event_type = 'LatePaymentReceived') AND NOT bool_or(event_type = 'LatePaymentRefunded'))) s)
        AS open_sagas,
      (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS backlog,
      (SELECT coalesce(max(position), 0) FROM events) AS head`)
  return {
    openOrders: Number(row?.open_orders ?? 0),
    openSagas: Number(row?.open_sagas ?? 0),
    backlog: Number(row?.backlog ?? 0),
    head: Number(row?.head ?? 0)
  }
}

/** Waits until everything is at rest and the log has not moved for `quietMs`, or `timeoutMs` passed. */
export const awaitRest = async (
  sql: Sql,
  options: { readonly timeoutMs: number; readonly quietMs?: number }
): Promise<Rest> => {
  const started = Date.now()
  const quietMs = options.quietMs ?? 2_000
  let lastHead = -1
  let stableSince = Date.now()
  while (true) {
    const now = await snapshot(sql).catch(() => undefined)
    if (now !== undefined) {
      if (now.head !== lastHead) {
        lastHead = now.head
        stableSince = Date.now()
      }
      const atRest = now.openOrders === 0 && now.openSagas === 0 && now.backlog === 0
      if (atRest && Date.now() - stableSince >= quietMs)
        return { reached: true, ...now, waitedMs: Date.now() - started }
      if (Date.now() - started > options.timeoutMs) return { reached: false, ...now, waitedMs: Date.now() - started }
    } else if (Date.now() - started > options.timeoutMs) {
      return { reached: false, openOrders: -1, openSagas: -1, backlog: -1, head: -1, waitedMs: Date.now() - started }
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
