/**
 * The catalog and its stock: define products (admin, seed), read one or a
 * page of them, restock, and the admin's view of a SKU's stock. Every change
 * is a command to the SKU's inventory actor (id = SKU).
 *
 * Reads come from the `catalog` read model (`readmodels/CatalogViews`: each
 * product with its stock counts, and the list of SKUs), folded from the event
 * store on a miss. Stock shown there trails the log by the projection's lag;
 * reservations are always decided against the inventory actor's own state, so
 * a stale figure can never oversell. `defineProduct` waits until the read
 * model has its event, so its caller lists its own write. With the read-model
 * store down, the SKU list comes from the `catalog_products` table
 * (`CatalogProjection`) in the event store's database.
 */
import { ActorRuntime } from "@agora/actors"
import { InventoryItem, type Money } from "@agora/domain"
import { EventStore, Lease } from "@agora/eventstore"
import { Projections, type ReadModelError } from "@agora/readmodels"
import { Config, Context, DateTime, Duration, Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import * as CatalogProjection from "./CatalogProjection.ts"
import * as CatalogViews from "./readmodels/CatalogViews.ts"
import * as ReadThrough from "./readmodels/ReadThrough.ts"

/** A product as customers see it. */
export interface ProductView {
  readonly sku: string
  readonly name: string
  readonly price: Money.Money
  readonly currency: string
  readonly available: number
}

/** A SKU's stock as the admin sees it: available = onHand − reserved. */
export interface StockView {
  readonly sku: string
  readonly onHand: number
  readonly reserved: number
  readonly available: number
  readonly shipped: number
}

export interface ProductPage {
  readonly products: ReadonlyArray<ProductView>
  /** The SKU to continue after, or null on the last page. */
  readonly nextCursor: string | null
}

export interface ProductDefinition {
  readonly sku: string
  readonly name: string
  readonly price: Money.Money
  /** Default: `DEFAULT_CURRENCY` (RUB). */
  readonly currency?: string
  readonly initialStock?: number
}

/** Upper-case letters, digits and single dashes, 1..64 characters: `BRK-PAD-FR-001`. */
export const skuPattern = /^[A-Z0-9]+(?:-[A-Z0-9]+)*$/
const maxSkuLength = 64
const maxNameLength = 200
/** The most units one restock may add. */
export const maxRestockQuantity = 1_000_000
/** How long `defineProduct` waits for the read model before answering anyway. */
const projectionPatience = Duration.seconds(10)

/** A product definition that cannot be accepted; `field` names the offending input. */
export class InvalidProduct extends Schema.TaggedError<InvalidProduct>()("InvalidProduct", {
  field: Schema.Literals(["sku", "name", "price", "currency", "initialStock"]),
  reason: Schema.String
}) {
  override get message() {
    return `${this.field} ${this.reason}`
  }
}

/** A failure of the store or runtime, not of the request: the API answers 503. */
export class UnexpectedCatalogError extends Schema.TaggedError<UnexpectedCatalogError>()("UnexpectedCatalogError", {
  cause: Schema.Defect()
}) {}

export class Catalog extends Context.Service<
  Catalog,
  {
    /**
     * Defines a SKU; an identical definition of an existing SKU changes
     * nothing. Waits for the read model unless `awaitReadModel` is false (a
     * seed at start-up, where the projections may run in another process
     * that is not up yet).
     */
    readonly defineProduct: (
      definition: ProductDefinition,
      options?: { readonly awaitReadModel?: boolean }
    ) => Effect.Effect<ProductView, InvalidProduct | InventoryItem.ProductAlreadyDefined | UnexpectedCatalogError>
    readonly product: (
      sku: string
    ) => Effect.Effect<ProductView, InventoryItem.ProductNotFound | UnexpectedCatalogError>
    /** In SKU order; the cursor is the last SKU of the previous page. */
    readonly products: (page: {
      readonly limit: number
      readonly cursor: string | undefined
    }) => Effect.Effect<ProductPage, UnexpectedCatalogError>
    /** Adds 1..`maxRestockQuantity` units on hand. */
    readonly restock: (
      sku: string,
      quantity: number
    ) => Effect.Effect<
      StockView,
      InventoryItem.ProductNotFound | InventoryItem.InvalidQuantity | UnexpectedCatalogError
    >
    readonly stock: (sku: string) => Effect.Effect<StockView, InventoryItem.ProductNotFound | UnexpectedCatalogError>
  }
>()("@agora/app/Catalog") {}

const stockOf = (product: InventoryItem.Product): StockView => ({
  sku: product.sku,
  onHand: product.onHand,
  reserved: product.reserved,
  available: InventoryItem.available(product),
  shipped: product.shipped
})

const validate = (definition: ProductDefinition, currency: string): InvalidProduct | undefined => {
  const { sku, name, price, initialStock } = definition
  if (sku.length > maxSkuLength || !skuPattern.test(sku)) {
    return new InvalidProduct({
      field: "sku",
      reason: `must be 1..${maxSkuLength} upper-case letters, digits and single dashes`
    })
  }
  if (name.trim().length === 0 || name.length > maxNameLength) {
    return new InvalidProduct({ field: "name", reason: `must be 1..${maxNameLength} characters` })
  }
  if (!Number.isSafeInteger(price) || price <= 0) {
    return new InvalidProduct({ field: "price", reason: "must be a positive amount" })
  }
  if (!/^[A-Z]{3}$/.test(currency)) {
    return new InvalidProduct({ field: "currency", reason: "must be an ISO 4217 code" })
  }
  if (initialStock !== undefined && (!Number.isSafeInteger(initialStock) || initialStock < 0)) {
    return new InvalidProduct({ field: "initialStock", reason: "must be a whole number, 0 or more" })
  }
  return undefined
}

export const make = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const store = yield* EventStore
  const sql = yield* SqlClient.SqlClient
  const defaultCurrency = yield* Config.String("DEFAULT_CURRENCY").pipe(Config.withDefault("RUB"))

  const withStores = <A, E>(effect: Effect.Effect<A, E, EventStore | SqlClient.SqlClient>) =>
    effect.pipe(Effect.provideService(EventStore, store), Effect.provideService(SqlClient.SqlClient, sql))

  yield* withStores(CatalogProjection.migrate)
  // One process at a time follows the log into the table, under the projection's lease.
  const lease = yield* Lease.Lease
  yield* Effect.forkScoped(lease.run(CatalogProjection.subscriptionName, withStores(CatalogProjection.runForever)))

  const reads = yield* ReadThrough.make
  const projections = yield* Projections
  const unexpected = (cause: unknown) => Effect.fail(new UnexpectedCatalogError({ cause }))
  const infrastructure = { ConcurrencyConflict: unexpected, EventStoreError: unexpected } as const
  const readModel = <A, E>(effect: Effect.Effect<A, E, EventStore | SqlClient.SqlClient>) =>
    withStores(effect).pipe(Effect.catch(unexpected))

  /** Waits until the catalog read model has applied the event at `target`; gives up quietly after a while. */
  const awaitProjection = Effect.fn("Catalog.awaitProjection")(function* (target: number) {
    const reached = yield* projections
      .awaitPosition(CatalogViews.name, target, projectionPatience)
      .pipe(Effect.catch((error: ReadModelError) => Effect.as(reads.storeDown(error), true)))
    if (!reached) yield* Effect.logWarning(`catalog projection has not reached position ${target} yet`)
  })

  const productDocs = { projection: CatalogViews.name, codec: CatalogViews.codec, ttlSeconds: undefined }

  const foldProduct = (sku: string) =>
    Effect.map(actors.state(InventoryItem.InventoryItem, sku), ({ state, version }) =>
      state._tag === "Product" ? { version, value: CatalogViews.docOf(state) } : undefined
    ).pipe(Effect.catchTags(infrastructure))

  const readProduct = (sku: string) =>
    Effect.map(
      reads.readOne({ ...productDocs, key: CatalogViews.productKey(sku), fold: foldProduct(sku) }),
      (doc) => doc?.value
    )

  const viewOf = (doc: CatalogViews.ProductDoc): ProductView => ({
    sku: doc.sku,
    name: doc.name,
    price: doc.price,
    currency: doc.currency,
    available: doc.onHand - doc.reserved
  })

  const defineProduct = Effect.fn("Catalog.defineProduct")(function* (
    definition: ProductDefinition,
    options?: { readonly awaitReadModel?: boolean }
  ) {
    const currency = definition.currency ?? defaultCurrency
    const invalid = validate(definition, currency)
    if (invalid !== undefined) return yield* invalid
    const at = yield* DateTime.now
    const result = yield* actors
      .send(
        InventoryItem.InventoryItem,
        definition.sku,
        new InventoryItem.DefineProduct({
          sku: definition.sku,
          name: definition.name,
          price: definition.price,
          currency,
          ...(definition.initialStock === undefined ? {} : { initialStock: definition.initialStock }),
          at
        })
      )
      .pipe(
        Effect.catchTags({
          ...infrastructure,
          InvalidQuantity: (e) =>
            Effect.fail(new InvalidProduct({ field: "initialStock", reason: `${e.quantity} is not a valid quantity` })),
          ProductNotFound: unexpected,
          OutOfStock: unexpected,
          ReservationMismatch: unexpected,
          NoReservation: unexpected
        })
      )
    if (result.position !== undefined && options?.awaitReadModel !== false) yield* awaitProjection(result.position)
    const state = result.state
    if (state._tag !== "Product") return yield* new UnexpectedCatalogError({ cause: "no product after defining it" })
    return {
      sku: state.sku,
      name: state.name,
      price: state.price,
      currency: state.currency,
      available: InventoryItem.available(state)
    }
  })

  const product = Effect.fn("Catalog.product")(function* (sku: string) {
    const doc = yield* readProduct(sku)
    if (doc === undefined) return yield* new InventoryItem.ProductNotFound({ sku })
    return viewOf(doc)
  })

  const products = Effect.fn("Catalog.products")(function* (page: {
    readonly limit: number
    readonly cursor: string | undefined
  }) {
    const skus = yield* reads.store
      .indexRangeByMember({ projection: CatalogViews.name }, CatalogViews.skusKey, {
        after: page.cursor,
        limit: page.limit + 1
      })
      .pipe(
        // The read-model store is down: the catalog table the event store's database keeps answers instead.
        Effect.catch((error: ReadModelError) =>
          Effect.andThen(
            reads.storeDown(error),
            Effect.map(readModel(CatalogProjection.list({ after: page.cursor, limit: page.limit + 1 })), (rows) =>
              rows.map((row) => row.sku)
            )
          )
        )
      )
    const shown = skus.slice(0, page.limit)
    const docs = yield* reads.readMany({
      ...productDocs,
      keys: shown.map(CatalogViews.productKey),
      fold: (key) => foldProduct(key.slice(CatalogViews.productKey("").length))
    })
    return {
      products: docs.flatMap((doc) => (doc === undefined ? [] : [viewOf(doc.value)])),
      nextCursor: skus.length > page.limit ? (shown.at(-1) ?? null) : null
    }
  })

  const restock = Effect.fn("Catalog.restock")(function* (sku: string, quantity: number) {
    if (!Number.isSafeInteger(quantity) || quantity < 1 || quantity > maxRestockQuantity) {
      return yield* new InventoryItem.InvalidQuantity({ sku, quantity })
    }
    const at = yield* DateTime.now
    const result = yield* actors
      .send(InventoryItem.InventoryItem, sku, new InventoryItem.Restock({ sku, quantity, at }))
      .pipe(
        Effect.catchTags({
          ...infrastructure,
          ProductAlreadyDefined: unexpected,
          OutOfStock: unexpected,
          ReservationMismatch: unexpected,
          NoReservation: unexpected
        })
      )
    const state = result.state
    if (state._tag !== "Product") return yield* new InventoryItem.ProductNotFound({ sku })
    return stockOf(state)
  })

  const stock = Effect.fn("Catalog.stock")(function* (sku: string) {
    const doc = yield* readProduct(sku)
    if (doc === undefined) return yield* new InventoryItem.ProductNotFound({ sku })
    return {
      sku: doc.sku,
      onHand: doc.onHand,
      reserved: doc.reserved,
      available: doc.onHand - doc.reserved,
      shipped: doc.shipped
    }
  })

  return Catalog.of({ defineProduct, product, products, restock, stock })
})

/** The service, with the catalog projection running in the background for the layer's lifetime. */
export const layer = Layer.effect(Catalog, make)
