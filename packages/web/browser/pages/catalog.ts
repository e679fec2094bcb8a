/** The catalog: every product with its price and how many are available, and "Add to cart". */
import { asApiError, getAll } from "../api.ts"
import * as Cart from "../cart.ts"
import { h, money, replace } from "../dom.ts"
import type { PageContext } from "../navigation.ts"
import type { Product } from "../types.ts"
import { empty, errorAlert, heading, loading, toast } from "../ui.ts"

const availability = (product: Product) =>
  product.available > 0
    ? h("p", { class: "stock in-stock" }, `${product.available} in stock`)
    : h("p", { class: "stock out-of-stock" }, "Out of stock")

const card = (product: Product) => {
  const button = h(
    "button",
    { type: "button", class: "primary", "aria-label": `Add ${product.name} to cart` },
    "Add to cart"
  )
  const inCart = h("p", { class: "in-cart" })
  const refresh = () => {
    const quantity = Cart.quantityOf(product.sku)
    button.disabled = product.available === 0 || quantity >= Math.min(product.available, Cart.maxQuantity)
    inCart.textContent = quantity > 0 ? `${quantity} in your cart` : ""
  }
  button.addEventListener("click", () => {
    Cart.add(product.sku)
    refresh()
    toast(`${product.name} added to your cart (${Cart.quantityOf(product.sku)}).`)
  })
  refresh()
  return h(
    "li",
    { class: "product card" },
    h("h2", null, product.name),
    h("p", { class: "sku" }, "SKU ", h("code", null, product.sku)),
    h("p", { class: "price" }, money(product.price, product.currency)),
    availability(product),
    inCart,
    button
  )
}

export const catalogPage = async ({ main, signal }: PageContext): Promise<void> => {
  const title = heading("Catalog")
  replace(main, title, loading("Loading the catalog…"))
  try {
    const products = await getAll<Product>("/api/products", signal)
    replace(
      main,
      title,
      products.length === 0
        ? empty(h("p", null, "The catalog is empty for now."))
        : h("ul", { class: "products", "aria-label": "Products" }, products.map(card))
    )
  } catch (error) {
    if (!signal.aborted) replace(main, title, errorAlert(asApiError(error), "The catalog could not be loaded."))
  }
}
