/**
 * A TCP proxy a test can cut and restore, to play a broker outage without
 * stopping the broker that other tests (and other people) are using.
 */
import * as Net from "node:net"
import { Effect, type Scope } from "effect"

export interface TcpProxy {
  /** The local port that forwards to the target. */
  readonly port: number
  /** Drops every connection and stops accepting new ones, like a broker that went away. */
  readonly cut: Effect.Effect<void>
  /** Accepts connections again on the same port. */
  readonly restore: Effect.Effect<void>
}

const listen = (server: Net.Server, port: number) =>
  Effect.callback<number>((resume) => {
    server.listen(port, "127.0.0.1", () => {
      const address = server.address()
      resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : port))
    })
  })

/** A proxy to `host:port`, closed with the scope. */
export const make = (target: {
  readonly host: string
  readonly port: number
}): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sockets = new Set<Net.Socket>()
    const track = (socket: Net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => socket.destroy())
    }
    const makeServer = () =>
      Net.createServer((client) => {
        const upstream = Net.connect(target.port, target.host)
        track(client)
        track(upstream)
        client.on("close", () => upstream.destroy())
        upstream.on("close", () => client.destroy())
        client.pipe(upstream).pipe(client)
      })
    let server = makeServer()
    const port = yield* listen(server, 0)
    const cut = Effect.callback<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
    const restore = Effect.suspend(() => {
      server = makeServer()
      return Effect.asVoid(listen(server, port))
    })
    yield* Effect.addFinalizer(() => Effect.ignore(cut))
    return { port, cut, restore }
  })
