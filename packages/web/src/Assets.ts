/**
 * The shop UI's files, built in memory when the server starts: the browser
 * app (TypeScript in `browser/`) bundled by rolldown into one ES module with
 * its source map, the stylesheet and the icon, each under a content-hashed
 * name below `/assets/`, and the page that loads them. Nothing is written to
 * disk, so a fresh clone serves the UI with no build step, a stale build can
 * never be served, and no request reaches the file system: a URL is only ever
 * a key in this map.
 */
import { createHash } from "node:crypto"
import { basename, extname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { Effect, FileSystem, Schema } from "effect"
import { build } from "rolldown"

/** One file as it is served. */
export interface Asset {
  readonly body: Uint8Array
  /** The body gzipped, when that saves enough to be worth it. */
  readonly gzip: Uint8Array | undefined
  readonly contentType: string
  /** A strong validator of the body. */
  readonly etag: string
  /** Content-hashed name: cacheable for good. */
  readonly immutable: boolean
}

/** The built UI: the page, and every other file by its URL path (`/assets/app-3F2A….js`). */
export interface Assets {
  readonly page: Asset
  readonly files: ReadonlyMap<string, Asset>
}

/** Where the built files are served. */
export const assetsPrefix = "/assets/"

/** The browser app's sources, beside this package's `src/`. */
export const sourceDir = fileURLToPath(new URL("../browser/", import.meta.url))

/** The UI could not be built: a broken source file or a broken install. */
export class UiBuildFailed extends Schema.TaggedError<UiBuildFailed>()("UiBuildFailed", {
  message: Schema.String,
  cause: Schema.Defect()
}) {}

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml"
}

/** The content type served for a file name; unknown kinds are opaque bytes. */
export const contentTypeOf = (name: string): string => contentTypes[extname(name)] ?? "application/octet-stream"

const hashOf = (body: Uint8Array) => createHash("sha256").update(body).digest("hex")

/** A file ready to serve; text is gzipped once here rather than per request. */
export const asset = (name: string, body: Uint8Array, immutable: boolean): Asset => {
  const compressed = body.byteLength > 1024 ? gzipSync(body, { level: 9 }) : undefined
  return {
    body,
    gzip: compressed !== undefined && compressed.byteLength < body.byteLength * 0.9 ? compressed : undefined,
    contentType: contentTypeOf(name),
    etag: `"${hashOf(body).slice(0, 27)}"`,
    immutable
  }
}

/** `name.ext` → `name-HASH.ext`. */
const hashedName = (name: string, body: Uint8Array) => {
  const ext = extname(name)
  return `${basename(name, ext)}-${hashOf(body).slice(0, 12)}${ext}`
}

// The placeholders of `index.html` (`{{app.js}}`), each replaced by the URL of the file it names.
const placeholder = /\{\{\s*([\w.-]+)\s*\}\}/g

const failed = (message: string) => (cause: unknown) => new UiBuildFailed({ message: `${message}: ${cause}`, cause })

/** Builds the UI from the sources in `dir` (about 50 ms). */
export const make = (dir: string = sourceDir) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const files = new Map<string, Asset>()
    const urls = new Map<string, string>()

    const bundle = yield* Effect.tryPromise({
      try: () =>
        build({
          cwd: dir,
          input: { app: "main.ts" },
          platform: "browser",
          tsconfig: join(dir, "tsconfig.json"),
          transform: { target: "es2022" },
          write: false,
          logLevel: "warn",
          output: { format: "esm", minify: true, sourcemap: true, entryFileNames: "[name]-[hash].js" }
        }),
      catch: failed("The web UI does not build")
    })
    for (const output of bundle.output) {
      const body = output.type === "chunk" ? new TextEncoder().encode(output.code) : output.source
      const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body
      files.set(`${assetsPrefix}${output.fileName}`, asset(output.fileName, bytes, true))
      if (output.type === "chunk" && output.isEntry) urls.set(`${output.name}.js`, `${assetsPrefix}${output.fileName}`)
    }

    for (const name of ["styles.css", "favicon.svg"]) {
      const body = yield* fs
        .readFile(join(dir, name))
        .pipe(Effect.mapError(failed(`The web UI's ${name} cannot be read`)))
      const url = `${assetsPrefix}${hashedName(name, body)}`
      files.set(url, asset(name, body, true))
      urls.set(name, url)
    }

    const template = new TextDecoder().decode(
      yield* fs
        .readFile(join(dir, "index.html"))
        .pipe(Effect.mapError(failed("The web UI's index.html cannot be read")))
    )
    const missing: Array<string> = []
    const html = template.replace(placeholder, (_, name: string) => {
      const url = urls.get(name)
      if (url === undefined) missing.push(name)
      return url ?? ""
    })
    if (missing.length > 0) {
      return yield* new UiBuildFailed({
        message: `index.html names files the build did not make: ${missing.join(", ")}`,
        cause: missing
      })
    }
    return { page: asset("index.html", new TextEncoder().encode(html), false), files } satisfies Assets
  })
