/** The cart: SKUs and quantities in `localStorage` (prices are always read from the catalog). */

export interface CartLine {
  readonly sku: string
  readonly quantity: number
}

const key = "agora.cart"
/** The API's limits on an order: lines and quantity per line. */
export const maxLines = 50
export const maxQuantity = 100

const listeners = new Set<() => void>()

const isLine = (value: unknown): value is CartLine =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as CartLine).sku === "string" &&
  Number.isInteger((value as CartLine).quantity) &&
  (value as CartLine).quantity > 0

/** The lines, oldest first; whatever in storage is not a line is dropped. */
export const lines = (): ReadonlyArray<CartLine> => {
  try {
    const stored: unknown = JSON.parse(localStorage.getItem(key) ?? "[]")
    return Array.isArray(stored) ? stored.filter(isLine) : []
  } catch {
    return []
  }
}

const save = (next: ReadonlyArray<CartLine>) => {
  localStorage.setItem(key, JSON.stringify(next))
  for (const listener of listeners) listener()
}

/** How many items in all. */
export const count = (): number => lines().reduce((sum, line) => sum + line.quantity, 0)

export const quantityOf = (sku: string): number => lines().find((line) => line.sku === sku)?.quantity ?? 0

/** Sets a line's quantity (0 removes it), within the API's limits. */
export const setQuantity = (sku: string, quantity: number): void => {
  const clamped = Math.max(0, Math.min(maxQuantity, Math.floor(quantity)))
  const current = lines()
  const exists = current.some((line) => line.sku === sku)
  if (!exists && (clamped === 0 || current.length >= maxLines)) return
  save(
    exists
      ? current.flatMap((line) => (line.sku !== sku ? [line] : clamped === 0 ? [] : [{ sku, quantity: clamped }]))
      : [...current, { sku, quantity: clamped }]
  )
}

export const add = (sku: string): void => setQuantity(sku, quantityOf(sku) + 1)

export const clear = (): void => save([])

/** Called whenever the cart changes (in this tab, or in another one). */
export const onChange = (listener: () => void): void => {
  listeners.add(listener)
}

window.addEventListener("storage", (event) => {
  if (event.key === key) for (const listener of listeners) listener()
})
