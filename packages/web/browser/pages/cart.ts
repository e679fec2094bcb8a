/** The cart, priced from the catalog as it is now: change quantities, remove lines, go to checkout. */
import { asApiError, getAll } from "../api.ts"
import * as Cart from "../cart.ts"
import { fromMinor, h, money, replace, toMinor } from "../dom.ts"
import type { PageContext } from "../navigation.ts"
import * as Session from "../session.ts"
import type { Product } from "../types.ts"
import { empty, errorAlert, heading, loading, table } from "../ui.ts"

/** A cart line with its product (undefined: no longer sold). */
export interface PricedLine {
  readonly sku: string
  readonly quantity: number
  readonly product: Product | undefined
  readonly totalMinor: number
}

/** The cart's lines priced from `products`, and the total of those that can be bought. */
export const priced = (products: ReadonlyArray<Product>) => {
  const bySku = new Map(products.map((p) => [p.sku, p]))
  const lines: ReadonlyArray<PricedLine> = Cart.lines().map((line) => {
    const product = bySku.get(line.sku)
    return { ...line, product, totalMinor: product === undefined ? 0 : toMinor(product.price) * line.quantity }
  })
  return {
    lines,
    total: fromMinor(lines.reduce((sum, line) => sum + line.totalMinor, 0)),
    currency: products[0]?.currency ?? "RUB",
    unsold: lines.filter((line) => line.product === undefined)
  }
}

/** What is wrong with a line, if anything. */
export const lineWarning = (line: PricedLine): string | undefined =>
  line.product === undefined
    ? "No longer sold: remove it to check out."
    : line.quantity > line.product.available
      ? line.product.available === 0
        ? "Out of stock: the order would be cancelled."
        : `Only ${line.product.available} available: the order would be cancelled.`
      : undefined

const quantityInput = (line: PricedLine, rerender: (focusSku: string) => void) => {
  const input = h("input", {
    type: "number",
    inputmode: "numeric",
    min: 1,
    max: Cart.maxQuantity,
    value: line.quantity,
    class: "quantity",
    "data-sku": line.sku,
    "aria-label": `Quantity of ${line.product?.name ?? line.sku}`
  })
  input.addEventListener("change", () => {
    const value = Number(input.value)
    if (Number.isInteger(value) && value >= 1) Cart.setQuantity(line.sku, value)
    rerender(line.sku)
  })
  return input
}

export const cartPage = async ({ main, signal }: PageContext): Promise<void> => {
  const title = heading("Your cart")
  if (Cart.lines().length === 0) {
    replace(main, title, empty(h("p", null, "Your cart is empty."), h("a", { href: "/" }, "Browse the catalog")))
    return
  }
  replace(main, title, loading("Pricing your cart…"))
  let products: ReadonlyArray<Product>
  try {
    products = await getAll<Product>("/api/products", signal)
  } catch (error) {
    if (!signal.aborted) replace(main, title, errorAlert(asApiError(error), "The catalog could not be loaded."))
    return
  }
  const render = (focusSku?: string) => {
    const cart = priced(products)
    if (cart.lines.length === 0) {
      replace(main, title, empty(h("p", null, "Your cart is empty."), h("a", { href: "/" }, "Browse the catalog")))
      return
    }
    const rows = cart.lines.map((line) => {
      const warning = lineWarning(line)
      return [
        h(
          "span",
          null,
          line.product?.name ?? line.sku,
          warning === undefined ? null : h("span", { class: "line-warning" }, warning)
        ),
        line.product === undefined ? "—" : money(line.product.price, line.product.currency),
        quantityInput(line, render),
        money(fromMinor(line.totalMinor), cart.currency),
        h(
          "button",
          {
            type: "button",
            class: "link-button",
            "aria-label": `Remove ${line.product?.name ?? line.sku}`,
            onclick: () => {
              Cart.setQuantity(line.sku, 0)
              render()
              main.querySelector("h1")?.focus()
            }
          },
          "Remove"
        )
      ]
    })
    replace(
      main,
      title,
      table("Items in your cart", ["Product", "Unit price", "Quantity", "Line total", ""], rows, [
        h("strong", null, "Total"),
        "",
        "",
        h("strong", { "data-testid": "cart-total" }, money(cart.total, cart.currency)),
        ""
      ]),
      h(
        "div",
        { class: "actions" },
        h("a", { href: "/" }, "Continue shopping"),
        cart.unsold.length > 0
          ? h("p", { class: "notice" }, "Remove the products that are no longer sold to check out.")
          : h(
              "a",
              {
                class: "button primary",
                href: Session.current() === undefined ? "/login?next=/checkout" : "/checkout"
              },
              Session.current() === undefined ? "Sign in to check out" : "Checkout"
            )
      )
    )
    if (focusSku !== undefined) main.querySelector<HTMLInputElement>(`input[data-sku="${focusSku}"]`)?.focus()
  }
  render()
}
