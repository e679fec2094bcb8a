import { defineConfig } from "vitest/config"

// vitest 4+ ignores a `vitest.workspace.ts` file: the workspace is declared here
// with `test.projects`, one project per package (see docs/adr/0001).
export default defineConfig({
  test: {
    projects: ["packages/*"],
    globalSetup: ["./scripts/test/globalSetup.ts"]
  }
})
