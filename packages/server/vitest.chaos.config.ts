import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

/**
 * The chaos suite (`pnpm test:chaos`, issue 8): the real server under load
 * while faults are injected, one scenario file at a time (each starts its own
 * server, stores and load, and they must not compete for the machine). Its
 * files end in `.chaos.ts`, so the package's own project (`test/**\/*.test.ts`)
 * never picks them up.
 */
export default defineConfig({
  // Paths below are from this package, wherever vitest is started (`pnpm test:chaos` runs at the root).
  root: fileURLToPath(new URL(".", import.meta.url)),
  test: {
    name: "chaos",
    include: ["test/chaos/**/*.chaos.ts"],
    globalSetup: ["../../scripts/test/globalSetup.ts"],
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 300_000,
    hookTimeout: 120_000
  }
})
