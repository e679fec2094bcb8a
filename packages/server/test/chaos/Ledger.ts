/**
 * What the virtual users asked for and what they were told: every write with
 * its final outcome. An acknowledged write (a 2xx) must be found afterwards,
 * exactly once; a rejected one must have changed nothing the checks can see;
 * an unresolved one (no definitive answer before the client gave up) may
 * have happened, but at most once.
 */
import type { Outcome } from "./Client.ts"

export type PaymentChoice = "account" | "tok_ok" | "tok_slow" | "tok_decline" | "tok_timeout"

export interface Line {
  readonly sku: string
  readonly quantity: number
}

export interface TopUp {
  readonly _tag: "TopUp"
  readonly user: number
  /** Minor units; unique per user, so the ledger entry it made can be told apart. */
  readonly amount: number
  readonly outcome: Outcome
}

export interface PlaceOrder {
  readonly _tag: "PlaceOrder"
  readonly user: number
  readonly lines: ReadonlyArray<Line>
  readonly payment: PaymentChoice
  readonly outcome: Outcome
}

export interface CancelOrder {
  readonly _tag: "CancelOrder"
  readonly user: number
  readonly orderId: string
  readonly outcome: Outcome
}

export type Write = TopUp | PlaceOrder | CancelOrder

export interface VirtualUser {
  readonly index: number
  readonly email: string
  readonly userId: string
  readonly token: string
}

/** Minor units as the API's decimal string. */
export const decimal = (minor: number): string => `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, "0")}`

/** The API's decimal string in minor units. */
export const minorOf = (text: string): number => {
  const [whole = "0", fraction = ""] = String(text).split(".")
  return Number(whole) * 100 + Number(fraction.padEnd(2, "0").slice(0, 2))
}

export class Ledger {
  readonly users: Array<VirtualUser> = []
  readonly writes: Array<Write> = []

  record(write: Write): void {
    this.writes.push(write)
  }

  acknowledged(): ReadonlyArray<Write> {
    return this.writes.filter((w) => w.outcome._tag === "acknowledged")
  }

  unresolved(): ReadonlyArray<Write> {
    return this.writes.filter((w) => w.outcome._tag === "unresolved")
  }

  /** The acknowledged orders: the id and total the API answered. */
  placedOrders(): ReadonlyArray<{ readonly write: PlaceOrder; readonly id: string; readonly total: number }> {
    return this.writes.flatMap((w) =>
      w._tag === "PlaceOrder" && w.outcome._tag === "acknowledged"
        ? [{ write: w, id: String(w.outcome.answer.body.id), total: minorOf(w.outcome.answer.body.total) }]
        : []
    )
  }
}
