/**
 * A cluster node (`ClusterNode.ts`) as a child process, for the multi-process
 * tests: start it, ask it over its control channel, kill it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("./ClusterNode.ts", import.meta.url))

export interface SendAnswer {
  readonly ok: boolean
  readonly version?: number
  readonly count?: number
  readonly error?: string
}

export interface Stats {
  readonly owned: ReadonlyArray<string>
  readonly resident: number
  readonly activations: number
  readonly conflicts: number
}

export interface ClusterNodeProcess {
  readonly port: number
  readonly child: ChildProcess
  readonly send: (id: string, by: number, commandId?: string) => Promise<SendAnswer>
  readonly stats: (ids: ReadonlyArray<string>) => Promise<Stats>
  /** The node's last output lines (for failure messages). */
  readonly output: () => string
  readonly kill: (signal: NodeJS.Signals) => Promise<void>
}

/** Starts a node on `port` over the database `databaseUrl`; resolves once its runtime is built. */
export const start = (databaseUrl: string, port: number, shards = 30): Promise<ClusterNodeProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      env: {
        ...process.env,
        CLUSTER_NODE_DATABASE_URL: databaseUrl,
        CLUSTER_NODE_PORT: String(port),
        CLUSTER_NODE_SHARDS: String(shards)
      },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let output = ""
    const keep = (text: string) => {
      output = (output + text).slice(-20_000)
    }
    child.stderr?.on("data", (chunk: Buffer) => keep(chunk.toString()))
    let nextRid = 0
    const pending = new Map<number, (answer: unknown) => void>()
    const ask = <A>(request: object): Promise<A> =>
      new Promise((answered, failed) => {
        if (child.exitCode !== null || child.signalCode !== null) return failed(new Error(`node ${port} is down`))
        const rid = nextRid++
        pending.set(rid, answered as (answer: unknown) => void)
        child.stdin?.write(`${JSON.stringify({ ...request, rid })}\n`)
      })
    const node: ClusterNodeProcess = {
      port,
      child,
      send: (id, by, commandId) => ask({ op: "send", id, by, ...(commandId === undefined ? {} : { commandId }) }),
      stats: (ids) => ask({ op: "stats", ids }),
      output: () => output,
      kill: async (signal) => {
        if (child.exitCode !== null || child.signalCode !== null) return
        child.kill(signal)
        await once(child, "exit")
      }
    }
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("@@")) return keep(`${line}\n`)
      const message = JSON.parse(line.slice(2)) as { readonly rid?: number; readonly ready?: boolean }
      if (message.ready === true) return resolve(node)
      if (message.rid === undefined) return
      const answered = pending.get(message.rid)
      pending.delete(message.rid)
      answered?.(message)
    })
    child.on("exit", (code, signal) => {
      // Whatever was still waiting on this node gets no answer: it is reported as such.
      for (const answered of pending.values()) answered({ ok: false, error: "NodeDown" })
      pending.clear()
      reject(new Error(`node ${port} exited (${code ?? signal}) before it was ready\n${output}`))
    })
  })
