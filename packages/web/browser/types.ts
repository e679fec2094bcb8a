/** The API's bodies as the UI reads them (SPEC §3; money is a decimal string). */

export interface Page<A> {
  readonly data: ReadonlyArray<A>
  readonly next_cursor: string | null
}

export interface Me {
  readonly id: string
  readonly email: string
  readonly roles: ReadonlyArray<string>
}

export interface Token {
  readonly access_token: string
  readonly expires_in: number
}

export interface Product {
  readonly sku: string
  readonly name: string
  readonly price: string
  readonly currency: string
  readonly available: number
}

export interface Stock {
  readonly sku: string
  readonly on_hand: number
  readonly reserved: number
  readonly available: number
  readonly shipped?: number
}

export interface Account {
  readonly balance: string
  readonly currency: string
}

export interface LedgerEntry {
  readonly id: string
  readonly kind: "top_up" | "debit" | "refund"
  readonly amount: string
  readonly order_id: string | null
  readonly balance_after: string
  readonly at: string
}

export const orderStatuses = ["PENDING", "RESERVED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"] as const
export type OrderStatus = (typeof orderStatuses)[number]

export interface OrderLine {
  readonly sku: string
  readonly name: string
  readonly quantity: number
  readonly unit_price: string
  readonly line_total: string
}

export interface Order {
  readonly id: string
  readonly status: OrderStatus
  readonly status_reason: string | null
  readonly items: ReadonlyArray<OrderLine>
  readonly total: string
  readonly currency: string
  readonly payment_method: "account" | "card"
  readonly tracking_number: string | null
  readonly created_at: string
  readonly updated_at: string
  readonly version: number
}

export interface OrderEvent {
  readonly position: number
  readonly version: number
  readonly type: string
  readonly data: Readonly<Record<string, unknown>>
  readonly recorded_at: string
}

/** One message of the live status feed. */
export interface StatusChange {
  readonly status: OrderStatus
  readonly status_reason: string | null
  readonly version: number
}

/** An RFC 9457 problem as the API answers it. */
export interface Problem {
  readonly status?: number
  readonly title?: string
  readonly detail?: string
  readonly code?: string
  readonly errors?: ReadonlyArray<{ readonly path: ReadonlyArray<string | number>; readonly message: string }>
}
