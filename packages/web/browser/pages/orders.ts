/** "My orders": the caller's orders, newest first, a page at a time. */
import { asApiError, get } from "../api.ts"
import { dateTime, h, money, replace, shortId, statusBadge } from "../dom.ts"
import type { PageContext } from "../navigation.ts"
import type { Order, Page } from "../types.ts"
import { empty, errorAlert, heading, loading, table } from "../ui.ts"

const pageSize = 20

const row = (order: Order) => [
  h(
    "a",
    { href: `/orders/${order.id}`, "aria-label": `Order ${shortId(order.id)}` },
    h("code", null, shortId(order.id))
  ),
  dateTime(order.created_at),
  order.items.map((item) => `${item.quantity} × ${item.name}`).join(", "),
  money(order.total, order.currency),
  statusBadge(order.status)
]

export const ordersPage = async ({ main, signal }: PageContext): Promise<void> => {
  const title = heading("My orders")
  replace(main, title, loading("Loading your orders…"))
  const orders: Array<Order> = []
  const list = h("div")
  const more = h("button", { type: "button" }, "Show older orders")
  const status = h("p", { class: "visually-hidden", role: "status" })

  const load = async (cursor: string | null) => {
    const page = await get<Page<Order>>(
      `/api/orders?limit=${pageSize}${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
      signal
    )
    orders.push(...page.data)
    replace(list, table("Your orders", ["Order", "Placed", "Items", "Total", "Status"], orders.map(row)))
    more.hidden = page.next_cursor === null
    more.onclick = async () => {
      more.disabled = true
      try {
        await load(page.next_cursor)
        status.textContent = `${orders.length} orders shown`
      } catch (error) {
        list.after(errorAlert(asApiError(error)))
      } finally {
        more.disabled = false
      }
    }
  }

  try {
    await load(null)
  } catch (error) {
    if (!signal.aborted) replace(main, title, errorAlert(asApiError(error), "Your orders could not be loaded."))
    return
  }
  replace(
    main,
    title,
    orders.length === 0
      ? empty(h("p", null, "You have not ordered anything yet."), h("a", { href: "/" }, "Browse the catalog"))
      : [list, more, status]
  )
}
