/**
 * The real server (`src/main.ts`) as a child process on a test database, for
 * end-to-end tests that need what only a process has: a port of its own, the
 * whole composition root, and SIGKILL. `start` waits for readiness; the
 * scope kills whatever is still running.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"

const mainTs = fileURLToPath(new URL("../src/main.ts", import.meta.url))

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (address !== null && typeof address === "object" ? resolve(address.port) : reject()))
    })
  })

export interface ServerProcess {
  readonly url: string
  /** The last lines the server wrote (for failure messages). */
  readonly output: () => string
  readonly kill: (signal: NodeJS.Signals) => Promise<void>
}

const waitReady = async (url: string, child: ChildProcess, seconds: number, path: string) => {
  const deadline = Date.now() + seconds * 1000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
    try {
      const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(1000) })
      if (response.ok) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`the server was not ready within ${seconds}s`)
}

/**
 * Starts the server with this configuration (on top of the test process's
 * environment) and waits until `readyPath` answers 2xx; the caller stops it.
 * Keeps the last `keepChars` of its output. For tests that kill and restart a
 * server (the chaos suite); the others use `start`.
 */
export const launch = async (
  env: Readonly<Record<string, string>>,
  port?: number,
  readyPath = "/api/ready",
  keepChars = 20_000
): Promise<ServerProcess & { readonly child: ChildProcess }> => {
  const chosen = port ?? (await freePort())
  const child = spawn(process.execPath, [mainTs], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(chosen), ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-keepChars)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const url = `http://127.0.0.1:${chosen}`
  try {
    await waitReady(url, child, 60, readyPath)
  } catch (error) {
    child.kill("SIGKILL")
    throw new Error(`${String(error)}\n${output}`)
  }
  return {
    url,
    child,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(signal)
      await once(child, "exit")
    }
  }
}

/**
 * Starts the server with this configuration (on top of the test process's
 * environment); stopped with the scope. Ready when `readyPath` answers 2xx
 * (`/api/ready`; a process with only the simulators has `/api/health`).
 */
export const start = (env: Readonly<Record<string, string>>, port?: number, readyPath = "/api/ready") =>
  Effect.acquireRelease(
    Effect.promise(() => launch(env, port, readyPath)),
    (server) => Effect.promise(() => server.kill("SIGKILL"))
  )

/** A JSON request against a running server. */
export const call = async (
  url: string,
  method: string,
  path: string,
  options: { readonly token?: string; readonly json?: unknown } = {}
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back
): Promise<{ readonly status: number; readonly body: any }> => {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(options.json === undefined ? {} : { "content-type": "application/json" }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` })
    },
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) })
  })
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: response.status, body }
}
