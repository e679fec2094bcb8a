/**
 * The real server (`src/main.ts`, through `ServerProcess.launch`) as one
 * child process at a time on a fixed port, so clients keep their URL across
 * a SIGKILL and the restart that follows. It tells a kill the suite made
 * from an exit nobody asked for (a crash: always a violation), and keeps the
 * last lines of every incarnation's output for failure messages.
 */
import type { ChildProcess } from "node:child_process"
import { freePort, launch, type ServerProcess } from "../ServerProcess.ts"

type Running = ServerProcess & { readonly child: ChildProcess }

/** Output kept per incarnation (the suite runs the server with LOG_LEVEL=warn: this is all of it). */
const outputKept = 4_000_000

export class ChaosServer {
  /** Exits that the suite did not cause, with the output before them. */
  readonly crashes: Array<string> = []
  starts = 0
  /** How long each start took until ready, in ms. */
  readonly startTimes: Array<number> = []
  private running: Running | undefined
  private earlier = ""
  private killing = false

  readonly env: Readonly<Record<string, string>>
  readonly port: number

  private constructor(env: Readonly<Record<string, string>>, port: number) {
    this.env = env
    this.port = port
  }

  static async start(env: Readonly<Record<string, string>>): Promise<ChaosServer> {
    const server = new ChaosServer(env, await freePort())
    await server.restart()
    return server
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** The process that runs now (for its pid); undefined between a kill and the restart. */
  get child(): ChildProcess | undefined {
    return this.running?.child
  }

  /** What the server wrote, across restarts (the last `lines` lines, or all). */
  output(lines?: number): string {
    const text = this.earlier + (this.running?.output() ?? "")
    return lines === undefined ? text : text.split("\n").slice(-lines).join("\n")
  }

  /** Starts a new incarnation (after `kill`), waiting until it is ready. */
  async restart(): Promise<void> {
    const started = performance.now()
    const running = await launch(this.env, this.port, "/api/ready", outputKept)
    this.startTimes.push(performance.now() - started)
    this.starts++
    this.running = running
    this.killing = false
    running.child.once("exit", (code, signal) => {
      if (!this.killing) {
        this.crashes.push(
          `the server exited by itself (code ${code}, signal ${signal})\n${running.output().slice(-3000)}`
        )
      }
    })
  }

  /** SIGKILL, and waits for the exit. */
  async kill(): Promise<void> {
    const running = this.running
    if (running === undefined) return
    this.killing = true
    await running.kill("SIGKILL")
    this.earlier = `${this.earlier}${running.output()}\n----- SIGKILL -----\n`.slice(-outputKept)
    this.running = undefined
  }

  /** Whether the current incarnation is still running. */
  alive(): boolean {
    const child = this.running?.child
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }
}
