/**
 * A redis-server of the scenario's own on a free port, with no persistence
 * (`--save "" --appendonly no`): killed (SIGKILL) it loses everything, and
 * started again on the same port it comes back empty, the harshest Redis
 * outage the read models can meet. Stopped with the scope.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { once } from "node:events"
import { connect } from "node:net"
import { Effect } from "effect"
import { freePort } from "../ServerProcess.ts"

/** Whether `redis-server` is on the PATH. */
export const available = (): boolean => spawnSync("redis-server", ["--version"]).status === 0

const answersPing = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port })
    socket.setTimeout(500)
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => {
      socket.destroy()
      resolve(data.toString().startsWith("+PONG"))
    })
    socket.once("error", () => resolve(false))
    socket.once("timeout", () => {
      socket.destroy()
      resolve(false)
    })
  })

export interface RedisServer {
  readonly url: string
  readonly kill: () => Promise<void>
  readonly start: () => Promise<void>
}

export const make = Effect.acquireRelease(
  Effect.promise(async (): Promise<RedisServer> => {
    const port = await freePort()
    let child: ChildProcess | undefined
    const start = async () => {
      child = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        { stdio: "ignore" }
      )
      const deadline = Date.now() + 10_000
      while (!(await answersPing(port))) {
        if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    const kill = async () => {
      const running = child
      child = undefined
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
      running.kill("SIGKILL")
      await once(running, "exit")
    }
    await start()
    return { url: `redis://127.0.0.1:${port}`, kill, start }
  }),
  (redis) => Effect.promise(() => redis.kill())
)
