/** Why the saga refused a report. */
import { Schema } from "effect"

/** A report about an order whose saga never started (no such order, or the message is not ours). */
export class FulfilmentNotFound extends Schema.TaggedError<FulfilmentNotFound>()("FulfilmentNotFound", {
  orderId: Schema.String
}) {
  override get message() {
    return `no fulfilment for order ${this.orderId}`
  }
}

/** Every refusal of this aggregate, as one codec (its commands' errors cross the wire between nodes). */
export const FulfilmentError = Schema.Union([FulfilmentNotFound])
export type FulfilmentError = typeof FulfilmentError.Type
