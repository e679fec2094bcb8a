/**
 * One order, live: its status follows the SSE feed (`/api/orders/{id}/live`,
 * the token in the query since `EventSource` cannot send headers) from
 * PENDING to SHIPPED, with the event history below. Each change shows at
 * once from the feed's message, then the order and its history are read
 * again until the read model has that version. The feed is closed at a
 * terminal status and when the user leaves the page (the server ends the
 * stream at a terminal status too, and `EventSource` would reconnect).
 * Someone else's order is "not found", exactly as the API says.
 */
import { ApiError, asApiError, get, getAll, request, token } from "../api.ts"
import { dateTime, h, money, reasonText, replace, shortId, statusBadge, statusLabels } from "../dom.ts"
import type { PageContext } from "../navigation.ts"
import * as Session from "../session.ts"
import { type Order, type OrderEvent, type OrderStatus, orderStatuses, type StatusChange } from "../types.ts"
import { empty, errorAlert, field, heading, loading, onSubmit, table, toast } from "../ui.ts"

const terminal: ReadonlySet<OrderStatus> = new Set(["DELIVERED", "CANCELLED"])
const cancellable: ReadonlySet<OrderStatus> = new Set(["PENDING", "RESERVED", "PAID"])
const steps: ReadonlyArray<OrderStatus> = ["PENDING", "RESERVED", "PAID", "SHIPPED", "DELIVERED"]

const eventLabels: Readonly<Record<string, string>> = {
  OrderPlaced: "Order placed",
  OrderReserved: "Stock reserved",
  OrderPaid: "Payment received",
  OrderShipped: "Shipped",
  OrderDelivered: "Delivered",
  OrderCancelled: "Cancelled"
}

const eventDetail = (event: OrderEvent): string | undefined => {
  const data = event.data
  if (event.type === "OrderCancelled" && typeof data.reason === "string") return reasonText(data.reason)
  if (event.type === "OrderShipped" && typeof data.tracking_number === "string")
    return `Tracking number ${data.tracking_number}`
  if (event.type === "OrderPlaced" && typeof data.total === "string" && typeof data.currency === "string")
    return `Total ${money(data.total, data.currency)}, paid by ${data.payment_method === "card" ? "card" : "account"}`
  return undefined
}

const historyList = (events: ReadonlyArray<OrderEvent>) =>
  h(
    "ol",
    { class: "history", "aria-label": "Event history" },
    events.map((event) =>
      h(
        "li",
        { "data-type": event.type },
        h("span", { class: "event-type" }, eventLabels[event.type] ?? event.type.replace(/([a-z])([A-Z])/g, "$1 $2")),
        h("time", { datetime: event.recorded_at }, dateTime(event.recorded_at)),
        ...[eventDetail(event)].map((detail) =>
          detail === undefined ? null : h("span", { class: "event-detail" }, detail)
        )
      )
    )
  )

const progress = (status: OrderStatus) => {
  const at = steps.indexOf(status)
  return h(
    "ol",
    { class: "progress", "aria-label": "Progress" },
    steps.map((step, i) =>
      h(
        "li",
        { class: i < at ? "done" : i === at ? "current" : "todo", "aria-current": i === at ? "step" : null },
        statusLabels[step]
      )
    )
  )
}

const notFound = (main: HTMLElement) =>
  replace(
    main,
    heading("Order not found"),
    empty(
      h("p", null, "No order with this id is visible to you. It may belong to someone else, or the link is wrong."),
      h("a", { href: "/orders" }, "Go to my orders")
    )
  )

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const orderPage = async ({ main, params, signal }: PageContext): Promise<void> => {
  const id = params[0] ?? ""
  const title = heading(`Order ${shortId(id)}`)
  replace(main, title, loading("Loading the order…"))
  let order: Order
  try {
    order = await get<Order>(`/api/orders/${encodeURIComponent(id)}`, signal)
  } catch (error) {
    if (signal.aborted) return
    if (error instanceof ApiError && error.status === 404) notFound(main)
    else replace(main, title, errorAlert(asApiError(error), "The order could not be loaded."))
    return
  }

  // Only the status and its reason are announced when they change; the progress steps are there to look at.
  const statusLive = h("div", { "aria-live": "polite", "aria-atomic": "true" })
  const progressSlot = h("div")
  const statusPanel = h("div", { class: "status-panel" }, statusLive, progressSlot)
  const liveNote = h("p", { class: "live-note" })
  const details = h("section", { "aria-labelledby": "items-title" })
  const actions = h("div", { class: "actions" })
  const history = h("section", { "aria-labelledby": "history-title" })

  const showStatus = (status: OrderStatus, reason: string | null) => {
    replace(
      statusLive,
      h("p", { class: "status-line" }, "Status: ", h("span", { "data-testid": "order-status" }, statusBadge(status))),
      reason === null || status !== "CANCELLED"
        ? null
        : h("p", { class: "reason", "data-testid": "status-reason" }, reasonText(reason))
    )
    replace(progressSlot, status === "CANCELLED" ? null : progress(status))
  }

  const showOrder = () => {
    showStatus(order.status, order.status_reason)
    replace(
      details,
      h("h2", { id: "items-title" }, "Items"),
      table(
        "Items in this order",
        ["Product", "Unit price", "Quantity", "Line total"],
        order.items.map((item) => [
          item.name,
          money(item.unit_price, order.currency),
          String(item.quantity),
          money(item.line_total, order.currency)
        ]),
        [h("strong", null, "Total"), "", "", h("strong", null, money(order.total, order.currency))]
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", null, "Placed"),
        h("dd", null, dateTime(order.created_at)),
        h("dt", null, "Payment"),
        h("dd", null, order.payment_method === "card" ? "Card" : "Account"),
        order.tracking_number === null ? null : [h("dt", null, "Tracking number"), h("dd", null, order.tracking_number)]
      )
    )
    replace(actions, cancellable.has(order.status) ? cancelButton() : null, Session.isAdmin() ? adminForm() : null)
  }

  const showHistory = async () => {
    const events = await getAll<OrderEvent>(`/api/orders/${encodeURIComponent(id)}/events`, signal)
    replace(history, h("h2", { id: "history-title" }, "History"), historyList(events))
  }

  // Reads the order again until it is at least at `wanted` (the read model trails the feed by a little).
  let wanted = order.version
  let refreshing = false
  const refresh = async () => {
    if (refreshing) return
    refreshing = true
    try {
      for (let attempt = 0; order.version < wanted && attempt < 40 && !signal.aborted; attempt++) {
        const next = await get<Order>(`/api/orders/${encodeURIComponent(id)}`, signal)
        if (next.version > order.version) {
          order = next
          showOrder()
          await showHistory()
        }
        if (order.version < wanted) await sleep(150)
      }
    } catch (error) {
      if (!signal.aborted) toast(asApiError(error).message)
    } finally {
      refreshing = false
    }
  }

  const cancelButton = () =>
    h(
      "button",
      {
        type: "button",
        class: "danger",
        onclick: async (event: Event) => {
          if (!window.confirm("Cancel this order? What was paid is refunded.")) return
          const button = event.currentTarget as HTMLButtonElement
          button.disabled = true
          try {
            order = await request<Order>("POST", `/api/orders/${encodeURIComponent(id)}/cancel`)
            wanted = Math.max(wanted, order.version)
            showOrder()
            await showHistory()
          } catch (error) {
            button.disabled = false
            actions.append(errorAlert(asApiError(error), "The order could not be cancelled."))
          }
        }
      },
      "Cancel order"
    )

  const adminForm = () => {
    const select = h(
      "select",
      { name: "status" },
      orderStatuses.filter((s) => s !== order.status).map((s) => h("option", { value: s }, statusLabels[s]))
    )
    const form = h(
      "form",
      { class: "inline-form", "aria-label": "Set the status (admin)" },
      field({ label: "Set status (admin)", name: "status", control: select }),
      h("button", { type: "submit" }, "Set status")
    )
    onSubmit(form, async (data) => {
      order = await request<Order>("PATCH", `/api/orders/${encodeURIComponent(id)}`, {
        json: { status: data.get("status") }
      })
      wanted = Math.max(wanted, order.version)
      showOrder()
      await showHistory()
      toast(`Status set to ${statusLabels[order.status]}.`)
    })
    return form
  }

  const follow = () => {
    const bearer = token()
    if (bearer === undefined || terminal.has(order.status)) {
      liveNote.textContent = "This order is final."
      return
    }
    const feed = new EventSource(
      `/api/orders/${encodeURIComponent(id)}/live?access_token=${encodeURIComponent(bearer)}`
    )
    const close = () => feed.close()
    signal.addEventListener("abort", close)
    feed.onopen = () => {
      liveNote.textContent = "Live: this page updates by itself."
    }
    feed.onerror = () => {
      liveNote.textContent =
        feed.readyState === EventSource.CLOSED ? "Live updates stopped: reload the page to resume." : "Reconnecting…"
    }
    feed.onmessage = (message: MessageEvent<string>) => {
      const change = JSON.parse(message.data) as StatusChange
      if (terminal.has(change.status)) {
        close()
        liveNote.textContent = "This order is final."
      }
      if (change.version <= Math.max(order.version, wanted)) return
      wanted = change.version
      showStatus(change.status, change.status_reason)
      void refresh()
    }
  }

  showOrder()
  replace(main, title, statusPanel, liveNote, actions, details, history)
  try {
    await showHistory()
  } catch (error) {
    if (!signal.aborted) replace(history, errorAlert(asApiError(error), "The history could not be loaded."))
  }
  if (!signal.aborted) follow()
}
