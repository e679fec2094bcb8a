/**
 * Which environment variables the code reads, found in its source text, and
 * which ones the README's configuration table documents. Shared by the
 * configuration reference test and `pnpm check:docker`.
 *
 * A read is a name given to one of Effect's `Config` constructors
 * (`Config.String("X")`, `Config.schema(S, "X")`, `Config.Literals(l, "X")`…),
 * directly or through a helper of the same module whose parameter is passed
 * on as the name (`present("X")`), or a `process.env.X` / `process.env["X"]`.
 * A name the scan cannot see (computed, `Config.nested`, an exported helper)
 * is reported as unresolved rather than skipped, so nothing escapes silently.
 * Comments and string contents are never taken for code.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"

/** One place where the code reads a variable. */
export interface Read {
  readonly name: string
  readonly file: string
  readonly line: number
}

/** A read whose name the scan cannot determine from the source text. */
export interface Unresolved {
  readonly file: string
  readonly line: number
  readonly code: string
}

export interface Scan {
  readonly reads: ReadonlyArray<Read>
  readonly unresolved: ReadonlyArray<Unresolved>
}

// Config constructors that take a variable name, and the position of that argument.
const nameArgument: Readonly<Record<string, number>> = {
  String: 0,
  NonEmptyString: 0,
  Number: 0,
  Finite: 0,
  Int: 0,
  Boolean: 0,
  Duration: 0,
  ByteSize: 0,
  Port: 0,
  LogLevel: 0,
  Redacted: 0,
  URL: 0,
  Date: 0,
  Literal: 1,
  Literals: 1,
  schema: 1,
  Array: 1,
  Record: 2,
  nested: 0
}

const envName = /^[A-Z][A-Z0-9_]*$/

const keywordsBeforeRegex = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "yield",
  "await"
])

/**
 * The source with comments blanked (offsets kept) and, for each character,
 * whether it lies inside a string, template text or regular expression.
 */
export const lex = (source: string): { readonly code: string; readonly quoted: Uint8Array } => {
  const out = source.split("")
  const quoted = new Uint8Array(source.length)
  // Brace depths at which an open template's `${` expressions close.
  const templates: Array<number> = []
  let depth = 0
  let i = 0
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " "
  }
  const previousToken = (at: number) => {
    let k = at - 1
    while (k >= 0 && /\s/.test(out[k] ?? "")) k--
    if (k < 0) return ""
    if (!/[\w$]/.test(out[k] ?? "")) return out[k] ?? ""
    let start = k
    while (start > 0 && /[\w$]/.test(out[start - 1] ?? "")) start--
    return source.slice(start, k + 1)
  }
  // Template text from `from` (just after "`" or "}") to its end or its next `${`.
  const templateText = (from: number): number => {
    let k = from
    while (k < source.length) {
      const c = source[k]
      if (c === "\\") k += 2
      else if (c === "`") {
        quoted.fill(1, from, k + 1)
        return k + 1
      } else if (c === "$" && source[k + 1] === "{") {
        quoted.fill(1, from, k + 2)
        templates.push(depth)
        depth++
        return k + 2
      } else k++
    }
    quoted.fill(1, from, source.length)
    return source.length
  }
  while (i < source.length) {
    const c = source[i]
    const next = source[i + 1]
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i)
      const stop = end === -1 ? source.length : end
      blank(i, stop)
      i = stop
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2)
      const stop = end === -1 ? source.length : end + 2
      blank(i, stop)
      i = stop
    } else if (c === '"' || c === "'") {
      let k = i + 1
      while (k < source.length && source[k] !== c && source[k] !== "\n") k += source[k] === "\\" ? 2 : 1
      quoted.fill(1, i, k + 1)
      i = k + 1
    } else if (c === "`") {
      i = templateText(i + 1)
    } else if (c === "/") {
      const before = previousToken(i)
      const isRegex = before === "" || /^[(,=:[!&|?{};+\-*%<>~^]$/.test(before) || keywordsBeforeRegex.has(before)
      if (!isRegex) {
        i++
        continue
      }
      let k = i + 1
      let inClass = false
      while (k < source.length && source[k] !== "\n") {
        const r = source[k]
        if (r === "/" && !inClass) break
        if (r === "[") inClass = true
        else if (r === "]") inClass = false
        k += r === "\\" ? 2 : 1
      }
      quoted.fill(1, i, k + 1)
      i = k + 1
    } else if (c === "{") {
      depth++
      i++
    } else if (c === "}") {
      depth--
      if (templates.length > 0 && templates[templates.length - 1] === depth) {
        templates.pop()
        i = templateText(i + 1)
      } else i++
    } else i++
  }
  return { code: out.join(""), quoted }
}

const lineAt = (source: string, offset: number) => source.slice(0, offset).split("\n").length

/** The top-level arguments of the call whose `(` is at `open`, as source slices. */
const argumentsAt = (code: string, quoted: Uint8Array, open: number): Array<string> | undefined => {
  const args: Array<string> = []
  let depth = 0
  let start = open + 1
  for (let k = open; k < code.length; k++) {
    if (quoted[k] === 1) continue
    const c = code[k]
    if (c === "(" || c === "[" || c === "{") depth++
    else if (c === ")" || c === "]" || c === "}") {
      depth--
      if (depth === 0) {
        const last = code.slice(start, k).trim()
        if (last !== "" || args.length > 0) args.push(last)
        return args
      }
    } else if (c === "," && depth === 1) {
      args.push(code.slice(start, k).trim())
      start = k + 1
    }
  }
  return undefined
}

/** `"X"`, `'X'` or a template with no substitution → `X`. */
const literal = (text: string): string | undefined => {
  const match = /^(["'`])([^"'`$\\]*)\1$/.exec(text)
  return match?.[2]
}

/** The helper (arrow function or function) nearest before `offset` that takes `parameter`. */
const helperTaking = (code: string, parameter: string, offset: number) => {
  const definitions = new RegExp(
    String.raw`(export\s+)?(?:const|let)\s+([\w$]+)\s*(?::[^=]+)?=\s*(?:<[^>]*>\s*)?\(\s*${parameter}\b|(export\s+)?function\s*\*?\s*([\w$]+)\s*(?:<[^>]*>)?\(\s*${parameter}\b`,
    "g"
  )
  let found: { readonly name: string; readonly exported: boolean } | undefined
  for (const match of code.slice(0, offset).matchAll(definitions)) {
    const name = match[2] ?? match[4]
    if (name !== undefined) found = { name, exported: (match[1] ?? match[3]) !== undefined }
  }
  return found
}

/** The variables one module reads. */
export const scanSource = (file: string, source: string): Scan => {
  const { code, quoted } = lex(source)
  const reads: Array<Read> = []
  const unresolved: Array<Unresolved> = []
  const where = (offset: number) => ({ file, line: lineAt(source, offset) })
  const excerpt = (offset: number) =>
    code.slice(offset, code.indexOf("\n", offset) === -1 ? undefined : code.indexOf("\n", offset)).trim()

  for (const match of code.matchAll(/\bConfig\s*\.\s*([A-Za-z]+)\s*\(/g)) {
    const offset = match.index
    const kind = match[1] ?? ""
    if (quoted[offset] === 1) continue
    const position = nameArgument[kind]
    if (position === undefined) continue
    const args = argumentsAt(code, quoted, offset + match[0].length - 1)
    const argument = args?.[position]
    const name = argument === undefined ? undefined : literal(argument)
    if (kind !== "nested" && name !== undefined && envName.test(name)) {
      reads.push({ name, ...where(offset) })
      continue
    }
    if (kind !== "nested" && argument !== undefined && /^[A-Za-z_$][\w$]*$/.test(argument)) {
      const helper = helperTaking(code, argument, offset)
      if (helper !== undefined && !helper.exported) {
        for (const call of code.matchAll(
          new RegExp(String.raw`(?<![\w$.])${helper.name}\s*\(\s*(["'])([^"'\n]*)\1`, "g")
        )) {
          if (quoted[call.index] !== 1 && envName.test(call[2] ?? ""))
            reads.push({ name: call[2] ?? "", ...where(call.index) })
        }
        continue
      }
    }
    unresolved.push({ ...where(offset), code: excerpt(offset) })
  }

  for (const match of code.matchAll(/\bprocess\s*\.\s*env\b/g)) {
    const offset = match.index
    if (quoted[offset] === 1) continue
    const rest = code.slice(offset + match[0].length)
    const dotted = /^\s*\.\s*([A-Za-z_][\w]*)/.exec(rest)
    const indexed = /^\s*\[\s*(["'])([^"'\n]*)\1\s*\]/.exec(rest)
    const destructured = /\{([^{}]*)\}\s*=\s*$/.exec(code.slice(Math.max(0, offset - 400), offset))
    const names = dotted
      ? [dotted[1] ?? ""]
      : indexed
        ? [indexed[2] ?? ""]
        : destructured
          ? (destructured[1] ?? "").split(",").map((part) => (part.split(/[:=]/)[0] ?? "").trim())
          : /^\s*\[/.test(rest)
            ? []
            : undefined
    // `process.env` passed on whole (to a child process) reads nothing by itself.
    if (names === undefined) continue
    if (names.length === 0 || names.some((name) => !envName.test(name))) {
      unresolved.push({ ...where(offset), code: excerpt(offset) })
      continue
    }
    for (const name of names) reads.push({ name, ...where(offset) })
  }
  return { reads, unresolved }
}

const typeScriptFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : typeScriptFiles(path)
    return entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : []
  })

/** The code that runs outside tests and benchmarks: every `packages/<name>/src/` and `scripts/`. */
export const productionFiles = (root: string): Array<string> => {
  const packages = readdirSync(join(root, "packages"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const src = join(root, "packages", entry.name, "src")
      try {
        return typeScriptFiles(src)
      } catch {
        return []
      }
    })
  return [...packages, ...typeScriptFiles(join(root, "scripts"))].sort()
}

/** Every variable read by the production code under `root`, with paths relative to it. */
export const scanRepository = (root: string): Scan => {
  const scans = productionFiles(root).map((file) => scanSource(relative(root, file), readFileSync(file, "utf8")))
  return { reads: scans.flatMap((scan) => scan.reads), unresolved: scans.flatMap((scan) => scan.unresolved) }
}

/** One row of the README's configuration table. */
export interface DocumentedRow {
  readonly names: ReadonlyArray<string>
  readonly line: number
  readonly cells: ReadonlyArray<string>
}

/**
 * The rows of the table in the README's `## Configuration` section, each with
 * the variables its first cell names in backticks (the header and the rule
 * excluded). Undefined when there is no such section.
 */
export const documentedRows = (readme: string): Array<DocumentedRow> | undefined => {
  const lines = readme.split("\n")
  const start = lines.findIndex((line) => /^## Configuration\s*$/.test(line))
  if (start === -1) return undefined
  const after = lines.slice(start + 1).findIndex((line) => /^## /.test(line))
  const end = after === -1 ? lines.length : start + 1 + after
  const rows: Array<DocumentedRow> = []
  let header = true
  for (let index = start + 1; index < end; index++) {
    const line = lines[index] ?? ""
    if (!line.trimStart().startsWith("|")) {
      header = true
      continue
    }
    const cells = line
      .trim()
      .replace(/^\||\|$/g, "")
      .split("|")
      .map((cell) => cell.trim())
    if (header || cells.every((cell) => /^:?-+:?$/.test(cell))) {
      header = false
      continue
    }
    const names = [...(cells[0] ?? "").matchAll(/`([^`]+)`/g)]
      .map((match) => match[1] ?? "")
      .filter((name) => envName.test(name))
    rows.push({ names, line: index + 1, cells })
  }
  return rows
}
