/** The admin's desk: stock per SKU and restocking, and moving an order along its state machine. */
import { asApiError, get, getAll, request } from "../api.ts"
import { h, replace, shortId, statusLabels } from "../dom.ts"
import type { PageContext } from "../navigation.ts"
import { type Order, orderStatuses, type Product, type Stock } from "../types.ts"
import { errorAlert, field, heading, loading, onSubmit, table, toast } from "../ui.ts"

const stockFacts = (stock: Stock) =>
  h(
    "dl",
    { class: "facts", "aria-live": "polite" },
    h("dt", null, "SKU"),
    h("dd", null, h("code", null, stock.sku)),
    h("dt", null, "On hand"),
    h("dd", null, String(stock.on_hand)),
    h("dt", null, "Reserved"),
    h("dd", null, String(stock.reserved)),
    h("dt", null, "Available"),
    h("dd", { "data-testid": "stock-available" }, String(stock.available)),
    stock.shipped === undefined ? null : [h("dt", null, "Shipped"), h("dd", null, String(stock.shipped))]
  )

const inventory = (products: ReadonlyArray<Product>) => {
  const result = h("div", { class: "result" })
  const skuSelect = () =>
    h(
      "select",
      { name: "sku" },
      products.map((p) => h("option", { value: p.sku }, `${p.name} (${p.sku})`))
    )
  const restock = h(
    "form",
    { class: "card", "aria-labelledby": "restock-title" },
    h("h3", { id: "restock-title" }, "Restock"),
    field({ label: "Product", name: "sku", control: skuSelect() }),
    field({
      label: "Quantity to add",
      name: "quantity",
      type: "number",
      attributes: { min: 1, inputmode: "numeric", required: true }
    }),
    h("button", { type: "submit", class: "primary" }, "Restock")
  )
  onSubmit(restock, async (data) => {
    const sku = String(data.get("sku"))
    await request("POST", `/api/admin/inventory/${encodeURIComponent(sku)}/restock`, {
      json: { quantity: Number(data.get("quantity")) }
    })
    replace(result, stockFacts(await get<Stock>(`/api/admin/inventory/${encodeURIComponent(sku)}`)))
    toast(`Restocked ${sku}.`)
  })
  const check = h(
    "form",
    { class: "card", "aria-labelledby": "check-title" },
    h("h3", { id: "check-title" }, "Stock of one product"),
    field({ label: "Product", name: "sku", control: skuSelect() }),
    h("button", { type: "submit" }, "Show stock")
  )
  onSubmit(check, async (data) => {
    replace(result, stockFacts(await get<Stock>(`/api/admin/inventory/${encodeURIComponent(String(data.get("sku")))}`)))
  })
  return h(
    "section",
    { "aria-labelledby": "inventory-title" },
    h("h2", { id: "inventory-title" }, "Inventory"),
    table(
      "Products and availability",
      ["SKU", "Product", "Available"],
      products.map((p) => [h("code", null, p.sku), p.name, String(p.available)])
    ),
    h("div", { class: "columns" }, restock, check),
    result
  )
}

const orderStatus = () => {
  const result = h("div", { class: "result", "aria-live": "polite" })
  const form = h(
    "form",
    { class: "card inline-form", "aria-labelledby": "status-title" },
    h("h2", { id: "status-title" }, "Order status"),
    field({ label: "Order id", name: "id", attributes: { required: true, autocomplete: "off", spellcheck: false } }),
    field({
      label: "New status",
      name: "status",
      control: h(
        "select",
        { name: "status" },
        orderStatuses.map((s) => h("option", { value: s }, statusLabels[s]))
      )
    }),
    h("button", { type: "submit", class: "primary" }, "Set status")
  )
  onSubmit(form, async (data) => {
    const id = String(data.get("id") ?? "").trim()
    const order = await request<Order>("PATCH", `/api/orders/${encodeURIComponent(id)}`, {
      json: { status: data.get("status") }
    })
    replace(
      result,
      h(
        "p",
        null,
        `Order ${shortId(order.id)} is now ${statusLabels[order.status]}. `,
        h("a", { href: `/orders/${order.id}` }, "Open the order")
      )
    )
  })
  return [form, result]
}

export const adminPage = async ({ main, signal }: PageContext): Promise<void> => {
  const title = heading("Admin")
  replace(main, title, loading("Loading the inventory…"))
  try {
    const products = await getAll<Product>("/api/products", signal)
    replace(main, title, inventory(products), orderStatus())
  } catch (error) {
    if (!signal.aborted) replace(main, title, errorAlert(asApiError(error), "The inventory could not be loaded."))
  }
}
