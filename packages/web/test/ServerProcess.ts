/**
 * The real server (`packages/server/src/main.ts`, the one composition root
 * that mounts the UI) as a child process on a port of its own, for the
 * browser tests. Started by path, not imported: no package may import the
 * server. `start` waits for readiness; the scope kills it.
 */
import { spawn } from "node:child_process"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"

const mainTs = fileURLToPath(new URL("../../server/src/main.ts", import.meta.url))

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (address !== null && typeof address === "object" ? resolve(address.port) : reject()))
    })
  })

export interface ServerProcess {
  readonly url: string
  /** The last lines the server wrote, for failure messages. */
  readonly output: () => string
}

/** Starts the server with this configuration on top of the test process's environment; killed with the scope. */
export const start = (env: Readonly<Record<string, string>>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const port = await freePort()
      const child = spawn(process.execPath, [mainTs], {
        env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-20_000)
      }
      child.stdout.on("data", keep)
      child.stderr.on("data", keep)
      const url = `http://127.0.0.1:${port}`
      const deadline = Date.now() + 90_000
      for (;;) {
        if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}\n${output}`)
        if (Date.now() > deadline) {
          child.kill("SIGKILL")
          throw new Error(`the server was not ready within 90 s\n${output}`)
        }
        const ready = await fetch(`${url}/api/ready`, { signal: AbortSignal.timeout(1000) }).then(
          (response) => response.ok,
          () => false
        )
        if (ready) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      return { url, child, output: () => output }
    }),
    ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
  )
