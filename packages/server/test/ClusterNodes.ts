/**
 * Several real servers (`src/main.ts`, `CLUSTER=on`, every role) on one
 * database, Redis prefix and RabbitMQ exchange: the cluster the end-to-end
 * tests drive. Each node has its own HTTP port and runner port. A client
 * reaches them as behind a load balancer (`next`: round robin over the nodes
 * it believes alive); a node can be killed with SIGKILL and new ones started
 * while the others run. What each node says about itself — its shards, its
 * actors, its leases — is read from its `/metrics` and `/api/ready`.
 */
import type { ChildProcess } from "node:child_process"
import { call, freePort, launch, type ServerProcess } from "./ServerProcess.ts"

export interface ClusterNode {
  readonly name: string
  readonly url: string
  readonly runnerPort: number
  readonly process: ServerProcess & { readonly child: ChildProcess }
}

/** Sums the samples of one Prometheus metric (every label set) in a `/metrics` text; undefined when absent. */
export const metricSum = (text: string, name: string): number | undefined => {
  let sum: number | undefined
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (rest[0] !== " " && rest[0] !== "{") continue
    const value = Number(line.slice(line.lastIndexOf(" ") + 1))
    if (Number.isFinite(value)) sum = (sum ?? 0) + value
  }
  return sum
}

export class ClusterNodes {
  /** Every node started, in order, dead or alive. */
  readonly nodes: Array<ClusterNode> = []
  /** Exits nobody asked for, with the node's last output. */
  readonly crashes: Array<string> = []
  private readonly killed = new Set<ClusterNode>()
  /** Nodes the load balancer no longer sends to (killed, or about to be). */
  private readonly drained = new Set<ClusterNode>()
  private turn = 0
  private started = 0

  readonly env: Readonly<Record<string, string>>

  constructor(env: Readonly<Record<string, string>>) {
    this.env = env
  }

  /**
   * Starts `count` nodes and waits until each is ready: the first alone (it
   * creates the schema), then the others at once. Nodes that all start on an
   * empty database can race on `CREATE TABLE IF NOT EXISTS` (the shipping
   * inbox's tables are created without a lock) and one of them exit.
   */
  static async start(env: Readonly<Record<string, string>>, count: number): Promise<ClusterNodes> {
    const cluster = new ClusterNodes(env)
    const first = await Promise.allSettled([cluster.add()])
    // Every start settles before any is given up on, so none is left running unseen.
    const rest =
      first[0]?.status === "fulfilled"
        ? await Promise.allSettled(Array.from({ length: count - 1 }, () => cluster.add()))
        : []
    const failed = [...first, ...rest].find((result) => result.status === "rejected")
    if (failed !== undefined) {
      await cluster.stop()
      throw failed.reason
    }
    return cluster
  }

  /** Starts one more node on the cluster's stores; resolves once it is ready (it joins the round robin then). */
  async add(): Promise<ClusterNode> {
    const name = `node${++this.started}`
    const [port, runnerPort] = await Promise.all([freePort(), freePort()])
    const process = await launch(
      {
        ...this.env,
        CLUSTER: "on",
        CLUSTER_RUNNER_HOST: "127.0.0.1",
        CLUSTER_RUNNER_PORT: String(runnerPort),
        // The payment simulator this node's saga calls calls back to this node.
        PUBLIC_URL: `http://127.0.0.1:${port}`
      },
      port
    )
    const node: ClusterNode = { name, url: process.url, runnerPort, process }
    process.child.once("exit", (code, signal) => {
      if (!this.killed.has(node)) {
        this.crashes.push(`${name} exited by itself (code ${code}, signal ${signal})\n${process.output().slice(-3000)}`)
      }
    })
    this.nodes.push(node)
    return node
  }

  /** The nodes not killed. */
  alive(): ReadonlyArray<ClusterNode> {
    return this.nodes.filter((node) => !this.killed.has(node))
  }

  /** The next node's URL, round robin over the nodes the load balancer still sends to. */
  readonly next = (): string => {
    const serving = this.nodes.filter((node) => !this.drained.has(node))
    const node = serving[this.turn++ % serving.length]
    if (node === undefined) throw new Error("no node left to send to")
    return node.url
  }

  /** The load balancer stops sending to `node` (as its health check would notice it gone). */
  drain(node: ClusterNode): void {
    this.drained.add(node)
  }

  /** SIGKILL, and waits for the exit. The node stays in the round robin until `drain`. */
  async kill(node: ClusterNode): Promise<void> {
    this.killed.add(node)
    await node.process.kill("SIGKILL")
  }

  /** Kills every node still running. */
  async stop(): Promise<void> {
    await Promise.all(this.alive().map((node) => this.kill(node)))
  }

  /** One `/metrics` sample of `node` (summed over labels); undefined when it does not answer. */
  async metric(node: ClusterNode, name: string): Promise<number | undefined> {
    const response = await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined)
    if (response?.ok !== true) return undefined
    return metricSum(await response.text(), name)
  }

  /** How many shards `node` holds (`effect_cluster_shards`). */
  shards(node: ClusterNode): Promise<number | undefined> {
    return this.metric(node, "effect_cluster_shards")
  }

  /** The leases `node` holds, from its readiness report. */
  async leasesHeld(node: ClusterNode): Promise<ReadonlyArray<string>> {
    const ready = await call(node.url, "GET", "/api/ready").catch(() => undefined)
    const leases = (ready?.body?.leases ?? {}) as Record<string, { readonly held_here: boolean }>
    return Object.entries(leases)
      .filter(([, lease]) => lease.held_here)
      .map(([name]) => name)
  }

  /** The last output of every node, for a failure message. */
  output(chars = 3_000): string {
    return this.nodes.map((node) => `----- ${node.name} -----\n${node.process.output().slice(-chars)}`).join("\n")
  }
}
