/**
 * Checkout: the cart's lines and total, payment from the account or by a
 * test card, and the order placed once (an `Idempotency-Key` per attempt;
 * the total shown is sent as `total_price`, so a price that changed since is
 * refused rather than charged).
 */
import { ApiError, asApiError, get, getAll, request } from "../api.ts"
import * as Cart from "../cart.ts"
import { fromMinor, h, money, replace, toMinor } from "../dom.ts"
import { go, type PageContext } from "../navigation.ts"
import type { Account, Order, Product } from "../types.ts"
import { empty, errorAlert, field, heading, loading, onSubmit, table } from "../ui.ts"
import { lineWarning, priced } from "./cart.ts"

/** The simulated provider's test cards (SPEC §3). */
export const testCards: ReadonlyArray<readonly [token: string, label: string]> = [
  ["tok_ok", "tok_ok — paid at once"],
  ["tok_slow", "tok_slow — paid after a few seconds"],
  ["tok_decline", "tok_decline — declined"],
  ["tok_timeout", "tok_timeout — never answers (cancelled after the payment timeout)"]
]

const accountOf = async (signal: AbortSignal): Promise<Account | undefined> => {
  try {
    return await get<Account>("/api/accounts/me", signal)
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined
    throw error
  }
}

const radio = (value: string, label: string, options: { checked: boolean; disabled?: boolean; hint?: string }) => {
  const id = `pay-${value}`
  return h(
    "div",
    { class: "choice" },
    h("input", {
      type: "radio",
      name: "payment_method",
      id,
      value,
      checked: options.checked,
      disabled: options.disabled ?? false,
      "aria-describedby": options.hint === undefined ? null : `${id}-hint`
    }),
    h("label", { for: id }, label),
    options.hint === undefined ? null : h("p", { class: "hint", id: `${id}-hint` }, options.hint)
  )
}

export const checkoutPage = async ({ main, signal }: PageContext): Promise<void> => {
  const title = heading("Checkout")
  if (Cart.lines().length === 0) {
    replace(main, title, empty(h("p", null, "Your cart is empty."), h("a", { href: "/" }, "Browse the catalog")))
    return
  }
  replace(main, title, loading("Preparing your order…"))
  let products: ReadonlyArray<Product>
  let account: Account | undefined
  try {
    ;[products, account] = await Promise.all([getAll<Product>("/api/products", signal), accountOf(signal)])
  } catch (error) {
    if (!signal.aborted) replace(main, title, errorAlert(asApiError(error), "Checkout could not be prepared."))
    return
  }
  const cart = priced(products)
  if (cart.unsold.length > 0) {
    replace(
      main,
      title,
      h("p", { class: "notice" }, "Some products are no longer sold."),
      h("a", { href: "/cart" }, "Back to the cart")
    )
    return
  }
  const enough = account !== undefined && toMinor(account.balance) >= toMinor(cart.total)
  const cardSelect = h(
    "select",
    { name: "card_token" },
    testCards.map(([token, label]) => h("option", { value: token }, label))
  )
  const cardField = h(
    "div",
    { class: "card-token", hidden: enough },
    field({ label: "Test card", name: "card_token", control: cardSelect })
  )
  const accountHint =
    account === undefined
      ? "You have no account yet: open one on the Account page."
      : `Balance ${money(account.balance, account.currency)}${enough ? "" : " — too low for this order: top up first, or the order is cancelled."}`

  const form = h(
    "form",
    { class: "card checkout", "aria-labelledby": "payment-title" },
    h(
      "fieldset",
      null,
      h("legend", { id: "payment-title" }, "Payment"),
      radio("account", "Pay from my account", { checked: enough, disabled: account === undefined, hint: accountHint }),
      radio("card", "Pay by card", { checked: !enough }),
      cardField
    ),
    h("p", { class: "total" }, "To pay: ", h("strong", null, money(cart.total, cart.currency))),
    h("button", { type: "submit", class: "primary" }, "Place order")
  )
  form.addEventListener("change", () => {
    cardField.hidden = (form.elements.namedItem("payment_method") as RadioNodeList).value !== "card"
  })
  onSubmit(form, async (data) => {
    const method = String(data.get("payment_method") ?? "")
    const order = await request<Order>("POST", "/api/orders", {
      idempotent: "checkout",
      json: {
        items: cart.lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
        payment_method: method,
        ...(method === "card" ? { card_token: String(data.get("card_token")) } : {}),
        total_price: cart.total
      }
    })
    Cart.clear()
    go(`/orders/${order.id}`)
  })

  const rows = cart.lines.map((line) => [
    h(
      "span",
      null,
      line.product?.name ?? line.sku,
      ...[lineWarning(line)].map((w) => (w === undefined ? null : h("span", { class: "line-warning" }, w)))
    ),
    String(line.quantity),
    money(fromMinor(line.totalMinor), cart.currency)
  ])
  replace(
    main,
    title,
    h(
      "div",
      { class: "columns" },
      h(
        "section",
        { "aria-labelledby": "summary-title" },
        h("h2", { id: "summary-title" }, "Your order"),
        table("Order summary", ["Product", "Quantity", "Line total"], rows, [
          h("strong", null, "Total"),
          "",
          h("strong", null, money(cart.total, cart.currency))
        ]),
        h("a", { href: "/cart" }, "Change the cart")
      ),
      form
    )
  )
}
