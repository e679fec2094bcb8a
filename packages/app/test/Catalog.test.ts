import { InProcessActorRuntime } from "@agora/actors"
import { Money } from "@agora/domain"
import { EventStore, Lease, PgEventStore } from "@agora/eventstore"
import { MemoryReadModelStore } from "@agora/readmodels"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Catalog, ReadModels } from "../src/index.ts"

const Stores = Layer.merge(PgEventStore.layer(), Lease.layer).pipe(Layer.provideMerge(TestDatabase.layer("catalog")))
const Stack = Catalog.layer.pipe(
  Layer.provideMerge(ReadModels.layer.pipe(Layer.provideMerge(MemoryReadModelStore.layer))),
  Layer.provideMerge(InProcessActorRuntime.layer()),
  Layer.provideMerge(Stores),
  Layer.orDie
)

const part = (sku: string, price: number, initialStock = 10) => ({
  sku,
  name: `Part ${sku}`,
  price: Money.make(price),
  initialStock
})

layer(Stack, { excludeTestServices: true, timeout: "120 seconds" })("Catalog", (it) => {
  describe("defineProduct", () => {
    it.effect("lists a product as soon as it is defined, in SKU order, page by page", () =>
      Effect.gen(function* () {
        const catalog = yield* Catalog.Catalog
        for (const [sku, price] of [
          ["LST-C", 300],
          ["LST-A", 100],
          ["LST-B", 200]
        ] as const) {
          const defined = yield* catalog.defineProduct(part(sku, price))
          assert.deepStrictEqual(defined, {
            sku,
            name: `Part ${sku}`,
            price: Money.make(price),
            currency: "RUB",
            available: 10
          })
        }
        const first = yield* catalog.products({ limit: 2, cursor: undefined })
        assert.deepStrictEqual(
          first.products.map((p) => [p.sku, p.price, p.available]),
          [
            ["LST-A", 100, 10],
            ["LST-B", 200, 10]
          ]
        )
        assert.strictEqual(first.nextCursor, "LST-B")
        const second = yield* catalog.products({ limit: 2, cursor: "LST-B" })
        assert.deepStrictEqual(
          second.products.map((p) => p.sku),
          ["LST-C"]
        )
        assert.isNull(second.nextCursor)
      })
    )

    it.effect("an identical definition records nothing; a different one is refused", () =>
      Effect.gen(function* () {
        const catalog = yield* Catalog.Catalog
        const store = yield* EventStore
        yield* catalog.defineProduct(part("DUP-1", 500))
        const again = yield* catalog.defineProduct(part("DUP-1", 500))
        assert.strictEqual(again.price, 500)
        assert.strictEqual(yield* store.streamVersion("inventory-DUP-1"), 1)
        const changed = yield* Effect.flip(catalog.defineProduct(part("DUP-1", 501)))
        assert.strictEqual(changed._tag, "ProductAlreadyDefined")
      })
    )

    it.effect("refuses a malformed definition, naming the field", () =>
      Effect.gen(function* () {
        const catalog = yield* Catalog.Catalog
        const fields = []
        for (const bad of [
          part("lower-case", 100),
          part("A--B", 100),
          { ...part("OK-1", 100), name: "  " },
          part("OK-2", 0),
          { ...part("OK-3", 100), currency: "rub" },
          part("OK-4", 100, -1)
        ]) {
          const error = yield* Effect.flip(catalog.defineProduct(bad))
          assert.strictEqual(error._tag, "InvalidProduct")
          if (error._tag === "InvalidProduct") fields.push(error.field)
        }
        assert.deepStrictEqual(fields, ["sku", "sku", "name", "price", "currency", "initialStock"])
      })
    )
  })

  describe("stock", () => {
    it.effect("restock raises on hand and availability, as the product and the list show", () =>
      Effect.gen(function* () {
        const catalog = yield* Catalog.Catalog
        yield* catalog.defineProduct(part("STK-1", 1_999, 20))
        const restocked = yield* catalog.restock("STK-1", 5)
        assert.deepStrictEqual(restocked, { sku: "STK-1", onHand: 25, reserved: 0, available: 25, shipped: 0 })
        // Reads come from the read model, which trails the write by the projection's lag.
        assert.isTrue(yield* ReadModels.awaitCaughtUp())
        assert.deepStrictEqual(yield* catalog.stock("STK-1"), restocked)
        assert.strictEqual((yield* catalog.product("STK-1")).available, 25)
        const page = yield* catalog.products({ limit: 100, cursor: "STK-0" })
        assert.strictEqual(page.products.find((p) => p.sku === "STK-1")?.available, 25)
      })
    )

    it.effect("an unknown SKU is ProductNotFound everywhere; a bad quantity is InvalidQuantity", () =>
      Effect.gen(function* () {
        const catalog = yield* Catalog.Catalog
        assert.strictEqual((yield* Effect.flip(catalog.product("NOPE-1")))._tag, "ProductNotFound")
        assert.strictEqual((yield* Effect.flip(catalog.stock("NOPE-1")))._tag, "ProductNotFound")
        assert.strictEqual((yield* Effect.flip(catalog.restock("NOPE-1", 1)))._tag, "ProductNotFound")
        yield* catalog.defineProduct(part("QTY-1", 100))
        for (const quantity of [0, -1, 1.5, Number.NaN, Catalog.maxRestockQuantity + 1]) {
          assert.strictEqual((yield* Effect.flip(catalog.restock("QTY-1", quantity)))._tag, "InvalidQuantity")
        }
        assert.strictEqual((yield* catalog.restock("QTY-1", Catalog.maxRestockQuantity)).onHand, 1_000_010)
      })
    )
  })
})
