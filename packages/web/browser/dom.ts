/**
 * Building the page: `h` makes elements from tags, attributes and children
 * (text always as text nodes, so nothing from the API is ever parsed as
 * HTML), and the formatters show money, times and statuses.
 */
import type { OrderStatus } from "./types.ts"

export type Child = Node | string | number | null | undefined | false | ReadonlyArray<Child>

type Handler = (event: Event) => void
type Attributes = Readonly<Record<string, string | number | boolean | undefined | null | Handler>>

/** An element: `on…` attributes are listeners, `true` is an empty attribute, `false`/`null`/`undefined` none. */
export const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes | null = null,
  ...children: ReadonlyArray<Child>
): HTMLElementTagNameMap[K] => {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (typeof value === "function") element.addEventListener(name.slice(2), value)
    else if (value === true) element.setAttribute(name, "")
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value))
  }
  append(element, children)
  return element
}

/** Appends children (nested arrays flattened, empty ones skipped). */
export const append = (parent: Node, children: ReadonlyArray<Child>): void => {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(parent, child)
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)))
  }
}

/** Replaces an element's content. */
export const replace = (parent: Element, ...children: ReadonlyArray<Child>): void => {
  parent.replaceChildren()
  append(parent, children)
}

let ids = 0
/** A unique id for wiring labels and descriptions. */
export const uid = (prefix: string): string => `${prefix}-${++ids}`

/** Integer minor units of a decimal string ("845.90" → 84590). */
export const toMinor = (amount: string): number => {
  const [whole = "0", fraction = ""] = amount.replace("-", "").split(".")
  const minor = Number(whole) * 100 + Number(fraction.padEnd(2, "0").slice(0, 2))
  return amount.startsWith("-") ? -minor : minor
}

/** A decimal string of minor units (84590 → "845.90"). */
export const fromMinor = (minor: number): string =>
  `${minor < 0 ? "-" : ""}${Math.floor(Math.abs(minor) / 100)}.${String(Math.abs(minor) % 100).padStart(2, "0")}`

/** Money for people: "RUB 8,999.99". */
export const money = (amount: string, currency: string): string => {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).format(Number(amount))
  } catch {
    return `${amount} ${currency}`
  }
}

/** A timestamp for people, in their own time zone. */
export const dateTime = (iso: string): string =>
  new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" })

/** The first block of an id, enough to tell orders apart on screen. */
export const shortId = (id: string): string => id.slice(0, 8)

export const statusLabels: Readonly<Record<OrderStatus, string>> = {
  PENDING: "Pending",
  RESERVED: "Reserved",
  PAID: "Paid",
  SHIPPED: "Shipped",
  DELIVERED: "Delivered",
  CANCELLED: "Cancelled"
}

const reasons: Readonly<Record<string, string>> = {
  out_of_stock: "Some items were out of stock.",
  payment_declined: "The card was declined.",
  insufficient_funds: "Your account balance was too low.",
  payment_timeout: "The payment provider did not answer in time.",
  shipping_cancelled: "The carrier cancelled the shipment; the payment was refunded.",
  cancelled_by_user: "You cancelled the order."
}

/** Why an order ended as it did, in words. */
export const reasonText = (reason: string): string => reasons[reason] ?? `Reason: ${reason.replaceAll("_", " ")}.`

/** A status as a coloured badge (its text carries the meaning; the colour only repeats it). */
export const statusBadge = (status: OrderStatus): HTMLElement =>
  h("span", { class: `badge badge-${status.toLowerCase()}` }, statusLabels[status] ?? status)
