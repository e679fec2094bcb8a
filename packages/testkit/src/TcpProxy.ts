/**
 * A TCP proxy a test can put in front of a server (Redis, PostgreSQL) to take
 * it away from a running stack and give it back: refuse every connection, or
 * accept them and never answer (a black hole, as a dead network path looks).
 */
import { type AddressInfo, connect, createServer, type Socket } from "node:net"
import { Context, Effect, Layer } from "effect"

export type Mode = "forward" | "refuse" | "stall"

/** The port a URL without one means. */
const defaultPorts: Readonly<Record<string, number>> = { "postgres:": 5432, "postgresql:": 5432, "redis:": 6379 }

export class TcpProxy extends Context.Service<
  TcpProxy,
  {
    /** The target URL with its host and port replaced by the proxy's. */
    readonly url: string
    /** Drops every open connection and handles new ones the given way. */
    readonly set: (mode: Mode) => Effect.Effect<void>
  }
>()("@agora/testkit/TcpProxy") {
  /** A proxy to `target` (a URL with a host and port), closed with the layer. */
  static readonly layer = (target: string) =>
    Layer.effect(
      TcpProxy,
      Effect.gen(function* () {
        const upstream = new URL(target)
        const sockets = new Set<Socket>()
        let mode: Mode = "forward"
        const track = (socket: Socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => socket.destroy())
        }
        const server = createServer((client) => {
          track(client)
          if (mode === "refuse") return client.destroy()
          if (mode === "stall") return
          const backend = connect({
            host: upstream.hostname,
            port: Number(upstream.port || defaultPorts[upstream.protocol])
          })
          track(backend)
          client.pipe(backend).pipe(client)
          client.on("close", () => backend.destroy())
          backend.on("close", () => client.destroy())
        })
        const port = yield* Effect.acquireRelease(
          Effect.callback<number>((resume) => {
            server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
          }),
          () =>
            Effect.callback<void>((resume) => {
              for (const socket of sockets) socket.destroy()
              server.close(() => resume(Effect.void))
            })
        )
        const url = new URL(target)
        url.hostname = "127.0.0.1"
        url.port = String(port)
        return TcpProxy.of({
          url: url.toString(),
          set: (next) =>
            Effect.sync(() => {
              mode = next
              for (const socket of sockets) socket.destroy()
            })
        })
      })
    )
}
