/**
 * A PostgreSQL of the scenario's own (the embedded server the dev start
 * uses, `EmbeddedPostgres`) on a free port with its data in a temporary
 * directory, so it can be stopped and started again mid-load without
 * touching the machine's. `stop` is PostgreSQL's fast shutdown (open
 * connections are cut, committed data kept). Stopped and removed with the scope.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, ManagedRuntime, Redacted } from "effect"
import { EmbeddedPostgres } from "../../src/EmbeddedPostgres.ts"
import { freePort } from "../ServerProcess.ts"

export interface PostgresServer {
  readonly url: string
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
}

export const make = Effect.acquireRelease(
  Effect.promise(async (): Promise<PostgresServer & { readonly dataDir: string }> => {
    const dataDir = mkdtempSync(join(tmpdir(), "agora-chaos-pg-"))
    const port = await freePort()
    const layer = EmbeddedPostgres.layer({ dataDir, port, database: "agora" })
    let runtime: ManagedRuntime.ManagedRuntime<EmbeddedPostgres, unknown> | undefined
    const start = async () => {
      const started = ManagedRuntime.make(layer)
      await started.runPromise(EmbeddedPostgres.useSync(() => undefined))
      runtime = started
    }
    const stop = async () => {
      const running = runtime
      runtime = undefined
      await running?.dispose()
    }
    await start()
    const url = await runtime!.runPromise(EmbeddedPostgres.useSync((pg) => Redacted.value(pg.url)))
    return { url, stop, start, dataDir }
  }),
  (pg) =>
    Effect.promise(async () => {
      await pg.stop()
      rmSync(pg.dataDir, { recursive: true, force: true })
      rmSync(`${pg.dataDir}.owner`, { force: true })
    })
)
