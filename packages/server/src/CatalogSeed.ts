/**
 * The demo catalog: ten car parts with prices in roubles and stock, defined
 * at start unless `SEED_DEMO_CATALOG=false`, and by `pnpm seed`. Defining a
 * product that exists identically records nothing, so running it again (every
 * start) leaves the catalog and its stock as they are.
 */
import { Catalog, ReadModels } from "@agora/app"
import { Money } from "@agora/domain"
import { Config, Effect, Layer } from "effect"

/** SKU, name, price in kopecks, initial stock. */
export const demoCatalog: ReadonlyArray<Catalog.ProductDefinition> = [
  { sku: "BRK-PAD-FR-001", name: "Front brake pads, ceramic (axle set)", price: 3_489_90, initialStock: 120 },
  { sku: "BRK-DSC-FR-002", name: "Front brake disc, ventilated, 280 mm", price: 4_250_50, initialStock: 60 },
  { sku: "OIL-FLT-003", name: "Engine oil filter", price: 612_40, initialStock: 200 },
  { sku: "AIR-FLT-004", name: "Engine air filter", price: 845_90, initialStock: 150 },
  { sku: "CAB-FLT-CRB-005", name: "Cabin air filter, activated carbon", price: 1_129_99, initialStock: 140 },
  { sku: "SPK-PLG-IR-006", name: "Iridium spark plug", price: 989_50, initialStock: 180 },
  { sku: "TMG-BLT-KIT-007", name: "Timing belt kit with water pump", price: 12_779_90, initialStock: 25 },
  { sku: "WPR-BLD-600-008", name: "Wiper blade, frameless, 600 mm", price: 1_045_75, initialStock: 90 },
  { sku: "SHK-ABS-FR-009", name: "Front shock absorber, gas-filled", price: 6_320_30, initialStock: 40 },
  { sku: "BAT-60AH-010", name: "Car battery 12 V 60 Ah", price: 8_999_99, initialStock: 20 }
].map((p) => ({ ...p, price: Money.make(p.price) }))

/** Defines the demo catalog; a SKU already defined differently is left alone, with a warning. */
export const seed = Effect.gen(function* () {
  const catalog = yield* Catalog.Catalog
  for (const product of demoCatalog) {
    yield* catalog
      .defineProduct(product, { awaitReadModel: false })
      .pipe(
        Effect.catchTag("ProductAlreadyDefined", () =>
          Effect.logWarning(`Demo product ${product.sku} exists with other data; left as it is`)
        )
      )
  }
  yield* Effect.logInfo(`Demo catalog: ${demoCatalog.length} products in place`)
})

/**
 * Seeds at start-up (`SEED_DEMO_CATALOG`). Where this process runs the
 * projections, start-up then waits (10 s at most) until the read models have
 * the catalog, so the first listing after readiness is complete; where they
 * run in another process (`ROLE=api` with Redis), it does not wait for a
 * process that may start later.
 */
export const layer = (projectsHere: boolean) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const enabled = yield* Config.Boolean("SEED_DEMO_CATALOG").pipe(Config.withDefault(true))
      if (!enabled) return
      yield* seed
      if (projectsHere && !(yield* ReadModels.awaitCaughtUp("10 seconds").pipe(Effect.orElseSucceed(() => false)))) {
        yield* Effect.logWarning("The read models have not caught up with the demo catalog yet")
      }
    })
  )
