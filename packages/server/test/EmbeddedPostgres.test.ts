import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { type AddressInfo, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, References } from "effect"
import { SqlClient } from "effect/sql"
import { EmbeddedPostgres } from "../src/EmbeddedPostgres.ts"

const freePort = Effect.callback<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A data directory of its own (PostgreSQL initialises it), removed with the scope. */
const tempDataDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "agora-pg-"))),
  (dir) =>
    Effect.sync(() => {
      rmSync(dir, { recursive: true, force: true })
      rmSync(`${dir}.owner`, { force: true })
    })
)

/** Runs `query` on the database of a freshly started embedded server, then stops the server. */
const withServer = <A>(dataDir: string, port: number, query: Effect.Effect<A, unknown, SqlClient.SqlClient>) =>
  Effect.gen(function* () {
    const { url } = yield* EmbeddedPostgres
    return yield* query.pipe(Effect.provide(PgClient.layer({ url })))
  }).pipe(Effect.provide(EmbeddedPostgres.layer({ dataDir, port, database: "agora_embedded_test" })), Effect.orDie)

const portOpen = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const server = createServer()
    server.once("error", () => resume(Effect.succeed(true)))
    server.listen(port, "127.0.0.1", () => server.close(() => resume(Effect.succeed(false))))
  })

// The leftover test makes the layer warn on purpose.
const quiet = Effect.provideService(References.MinimumLogLevel, "Error")

describe("EmbeddedPostgres", () => {
  it.live("initialises once, keeps its data across restarts and stops with its scope", () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDataDir
      const port = yield* freePort
      yield* withServer(
        dataDir,
        port,
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.andThen(sql`CREATE TABLE marker (note text)`, sql`INSERT INTO marker VALUES ('kept')`)
        )
      )
      assert.isFalse(yield* portOpen(port))
      assert.isFalse(existsSync(`${dataDir}.owner`))
      const rows = yield* withServer(
        dataDir,
        port,
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ note: string }>`SELECT note FROM marker`)
      )
      assert.deepStrictEqual(rows, [{ note: "kept" }])
    }).pipe(quiet)
  )

  it.live("shuts down promptly when PostgreSQL got the signal first (Ctrl-C reaches the process group)", () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDataDir
      const port = yield* freePort
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Layer.build(EmbeddedPostgres.layer({ dataDir, port, database: "postgres" }))
          const [pid] = readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")
          process.kill(Number(pid), "SIGINT")
          while (yield* portOpen(port)) yield* Effect.sleep("50 millis")
        })
      ).pipe(Effect.timeout("10 seconds"))
    }).pipe(quiet)
  )

  it.live("stops a server left running by a process that was killed", () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDataDir
      const port = yield* freePort
      const module = new URL("../src/EmbeddedPostgres.ts", import.meta.url).href
      const script = `
        import { Effect, Layer } from "effect"
        import { EmbeddedPostgres } from ${JSON.stringify(module)}
        const started = EmbeddedPostgres.layer(${JSON.stringify({ dataDir, port, database: "postgres" })})
        Effect.runFork(Layer.launch(Layer.tap(started, () => Effect.sync(() => console.log("ready")))))
      `
      // The child resolves `effect` from this package, as the server does.
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
        cwd: new URL("..", import.meta.url),
        stdio: ["ignore", "pipe", "inherit"]
      })
      yield* Effect.callback<void>((resume) => {
        const onExit = (code: number | null) => resume(Effect.die(new Error(`child exited early with ${code}`)))
        child.once("exit", onExit)
        child.stdout.on("data", (chunk: Buffer) => {
          if (!chunk.toString().includes("ready")) return
          child.off("exit", onExit)
          resume(Effect.void)
        })
      })
      // Reaped, as a shell would: a zombie still counts as a live owner.
      yield* Effect.callback<void>((resume) => {
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      })
      assert.isTrue(yield* portOpen(port), "the orphaned server is still listening")
      const rows = yield* withServer(
        dataDir,
        port,
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ ok: number }>`SELECT 1 AS ok`)
      )
      assert.deepStrictEqual(rows, [{ ok: 1 }])
      assert.isFalse(yield* portOpen(port))
    }).pipe(quiet)
  )
})
