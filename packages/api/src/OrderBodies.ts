/**
 * Orders as JSON: the body of an order (money as decimal strings), the data
 * of its events (snake_case, no card token), and a cache of serialised
 * bodies, one per order version, for the hottest read.
 */
import type { Orders } from "@agora/app"
import { Money, type Order } from "@agora/domain"
import { DateTime } from "effect"

const money = Money.toDecimalString

export const orderBody = (order: Orders.OrderView) => ({
  id: order.id,
  user_id: order.userId,
  status: order.status,
  status_reason: order.statusReason,
  items: order.lines.map((line) => ({
    sku: line.sku,
    name: line.name,
    quantity: line.quantity,
    unit_price: money(line.unitPrice),
    line_total: money(Money.multiply(line.unitPrice, line.quantity))
  })),
  total: money(order.total),
  currency: order.currency,
  payment_method: order.paymentMethod,
  payment_id: order.paymentId,
  shipment_id: order.shipmentId,
  tracking_number: order.trackingNumber,
  created_at: DateTime.formatIso(order.createdAt),
  updated_at: DateTime.formatIso(order.updatedAt),
  version: order.version
})

/** An event's data as clients read it: snake_case, money as decimal strings, no card token. */
export const eventData = (event: Order.OrderEvent): Record<string, unknown> => {
  switch (event._tag) {
    case "OrderPlaced":
      return {
        order_id: event.orderId,
        user_id: event.userId,
        items: event.lines.map((line) => ({
          sku: line.sku,
          name: line.name,
          quantity: line.quantity,
          unit_price: money(line.unitPrice)
        })),
        total: money(event.total),
        currency: event.currency,
        payment_method: event.paymentMethod
      }
    case "OrderPaid":
      return { order_id: event.orderId, payment_id: event.paymentId }
    case "OrderShipped":
      return { order_id: event.orderId, shipment_id: event.shipmentId, tracking_number: event.trackingNumber }
    case "OrderCancelled":
      return { order_id: event.orderId, reason: event.reason }
    case "OrderReserved":
    case "OrderDelivered":
      return { order_id: event.orderId }
  }
}

/** The serialised body of each order's latest version seen, bounded (oldest out). */
export const makeBodyCache = (capacity: number) => {
  const bodies = new Map<string, { readonly version: number; readonly json: string }>()
  return {
    json: (order: Orders.OrderView): string => {
      const cached = bodies.get(order.id)
      if (cached !== undefined && cached.version === order.version) return cached.json
      const json = JSON.stringify(orderBody(order))
      bodies.delete(order.id)
      if (bodies.size >= capacity) bodies.delete(bodies.keys().next().value!)
      bodies.set(order.id, { version: order.version, json })
      return json
    }
  }
}
