/**
 * The `orders` projection: each order's state (`order:<id>`, the Order
 * aggregate's own state folded by its own `evolve`, so the view can never
 * disagree with the actor's) kept for 5 minutes after its last change, and each
 * user's orders newest first (`user:<userId>`, scored by the position of the
 * `OrderPlaced`, complete: it never expires).
 */
import { Order } from "@agora/domain"
import type { RecordedEvent } from "@agora/eventstore"
import { applyToDoc, type Projection } from "@agora/readmodels"
import { eventDecoder, idOf, isPoison, schemaCodec } from "./StreamEvents.ts"

export const name = "orders"

/** How long an order's document lives after its last change (cache-aside: a miss folds the stream). */
export const ttlSeconds = 300

export const orderKey = (orderId: string): string => `order:${orderId}`
export const userKey = (userId: string): string => `user:${userId}`

export const codec = schemaCodec(Order.OrderState)
const decodeEvent = eventDecoder(Order.Order)

export const projection: Projection = {
  name,
  handles: (event) => event.streamType === Order.Order.type,
  docKeys: (event) => [orderKey(idOf(event))],
  apply: (recorded: RecordedEvent, context) => {
    const event = decodeEvent(recorded)
    if (isPoison(event)) return event
    if (event._tag === "OrderPlaced") context.indexAdd(userKey(event.userId), recorded.position, event.orderId)
    applyToDoc(context, orderKey(idOf(recorded)), recorded, codec, {
      create: () => Order.Order.evolve(Order.initialState, event),
      evolve: (state) => Order.Order.evolve(state, event),
      ttlSeconds
    })
    return undefined
  }
}
