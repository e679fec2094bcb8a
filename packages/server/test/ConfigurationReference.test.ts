/**
 * The README's configuration table is the reference of every environment
 * variable: each one the code reads (in `packages/* /src` and `scripts/`, not
 * tests or benchmarks) has a row, and each row names only variables the code
 * reads, so the table can rot in neither direction. The scan itself is checked
 * first on sources written here, so a scan that finds nothing cannot pass.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { documentedRows, lex, type Read, scanRepository, scanSource } from "./ConfigReads.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))

const names = (source: string) => [...new Set(scanSource("example.ts", source).reads.map((read) => read.name))].sort()

describe("the scan of configuration reads", () => {
  it("finds each form of Config the code uses, and process.env", () => {
    const source = `
      import { Config, Schema } from "effect"
      const a = Config.String("A_STRING").pipe(Config.withDefault("NOT_A_NAME"))
      const b = Config.option(Config.Redacted(
        "B_REDACTED"
      ))
      const c = Config.schema(Schema.Literals(["on", "off"]), "C_SCHEMA")
      const d = Config.all({ port: Config.Port("D_PORT"), wait: Config.Duration('D_DURATION') })
      const e = Config.Literals(["X", "Y"], "E_LITERALS")
      const present = (name: string) => Config.option(Config.Redacted(name))
      const f = present("F_HELPER")
      const g = process.env.G_DOTTED ?? process.env["G_INDEXED"]
      const { H_ONE, H_TWO: renamed } = process.env
      const i = Config.Boolean(\`I_TEMPLATE\`)
    `
    assert.deepStrictEqual(names(source), [
      "A_STRING",
      "B_REDACTED",
      "C_SCHEMA",
      "D_DURATION",
      "D_PORT",
      "E_LITERALS",
      "F_HELPER",
      "G_DOTTED",
      "G_INDEXED",
      "H_ONE",
      "H_TWO",
      "I_TEMPLATE"
    ])
  })

  it("ignores comments, strings, templates and regular expressions that only look like reads", () => {
    const source = `
      // Config.String("IN_LINE_COMMENT")
      /* Config.String("IN_BLOCK_COMMENT") and process.env.IN_BLOCK_COMMENT_TOO */
      /** \`Config.Port("IN_DOC")\` */
      const help = "set Config.String(\\"IN_STRING\\") or process.env.IN_STRING_TOO"
      const glob = "packages/*/src" + Config.String("AFTER_A_GLOB")
      const text = \`Config.Int("IN_TEMPLATE") \${Config.Int("IN_SUBSTITUTION")} \${\`nested \${"}"}\`} Config.Int("STILL_TEMPLATE")\`
      const re = /["'\`]Config.String("IN_REGEX")/g.test(help)
      const half = 10 / 2; const after = Config.Number("AFTER_DIVISION")
    `
    assert.deepStrictEqual(names(source), ["AFTER_A_GLOB", "AFTER_DIVISION", "IN_SUBSTITUTION"])
  })

  it("reports a read whose name it cannot see instead of skipping it", () => {
    const source = [
      'const key = "COMPUTED"',
      "const a = Config.String(key + '_SUFFIX')",
      'const b = Config.nested(Config.String("INNER"), "PREFIX")',
      "const c = process.env[key]",
      "export const shared = (name: string) => Config.String(name)"
    ].join("\n")
    const scan = scanSource("example.ts", source)
    assert.deepStrictEqual(scan.unresolved.map((entry) => entry.line).sort(), [2, 3, 4, 5])
    assert.isTrue(lex("a /* x */ b").code === "a         b")
  })

  it("reads the rows of the README's configuration table", () => {
    const readme = [
      "## Configuration",
      "",
      "| variable | default | meaning |",
      "| --- | --- | --- |",
      "| `ONE`, `TWO` | `1`, `2` | a `NOT_A_NAME_HERE`? no: only the first cell counts |",
      "| nothing named | | |",
      "## Next",
      "| `OUTSIDE` | | |"
    ].join("\n")
    const rows = documentedRows(readme)
    assert.deepStrictEqual(
      rows?.map((row) => row.names),
      [["ONE", "TWO"], []]
    )
  })
})

describe("the README's configuration table", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const rows = documentedRows(readme) ?? []
  const scan = scanRepository(root)
  const documented = new Set(rows.flatMap((row) => row.names))
  const byName = new Map<string, Array<Read>>()
  for (const read of scan.reads) byName.set(read.name, [...(byName.get(read.name) ?? []), read])

  it("exists and names the variables the code is known to read", () => {
    assert.isTrue(rows.length > 0, "README.md has no table under ## Configuration")
    // A floor the scan must reach, so a broken scan cannot pass by finding nothing.
    for (const name of ["PORT", "DATABASE_URL", "ROLE", "KAFKA_BROKERS", "AMQP_URL", "SHIPPING_SIMULATOR"])
      assert.isTrue(byName.has(name), `the scan did not find ${name}`)
  })

  it("sees the name of every read", () => {
    const lines = scan.unresolved.map((entry) => `${entry.file}:${entry.line}: ${entry.code}`)
    assert.deepStrictEqual(
      lines,
      [],
      `these reads have no literal name the reference can check (name them, or teach ConfigReads.ts the form):\n${lines.join("\n")}`
    )
  })

  it("has a row for every variable the code reads", () => {
    const missing = [...byName.entries()]
      .filter(([name]) => !documented.has(name))
      .map(([name, reads]) => `${name} (${reads.map((read) => `${read.file}:${read.line}`).join(", ")})`)
      .sort()
    assert.deepStrictEqual(missing, [], `not in README.md's ## Configuration table:\n${missing.join("\n")}`)
  })

  it("names only variables the code reads, each row at least one", () => {
    const stale = rows.flatMap((row) =>
      row.names.length === 0
        ? [`README.md:${row.line}: a row that names no variable`]
        : row.names.filter((name) => !byName.has(name)).map((name) => `README.md:${row.line}: ${name}`)
    )
    assert.deepStrictEqual(
      stale,
      [],
      `documented, but read by no code in packages/*/src or scripts/:\n${stale.join("\n")}`
    )
  })
})
