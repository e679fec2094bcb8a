/**
 * Requests the fetch client will not send: any method, a path with raw `%`,
 * a chunked body without Content-Length, bytes outside ASCII in a header, or
 * bytes that are not HTTP at all — sent with `node:http` or a bare socket to
 * the test server's port.
 */
import { request } from "node:http"
import { connect } from "node:net"
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { HttpServer } from "effect/http"

export interface RawReply {
  readonly status: number
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>>
  readonly text: string
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read whatever JSON came back
  readonly body: any
}

export interface RawRequest {
  readonly method: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string | number>>
  readonly body?: string | Buffer
  /** Sent in chunks without a Content-Length. */
  readonly chunked?: boolean
}

const parse = (text: string): unknown => {
  try {
    return text === "" ? undefined : JSON.parse(text)
  } catch {
    return text
  }
}

/** Sends one request with `node:http` (a fresh connection); resolves with whatever came back. */
export const sendPromise = (port: number, req: RawRequest): Promise<RawReply> =>
  new Promise((resolve, reject) => {
    const outgoing = request(
      { host: "127.0.0.1", port, method: req.method, path: req.path, headers: req.headers, agent: false },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parse(text) })
        })
        res.on("error", reject)
      }
    )
    outgoing.on("error", reject)
    if (req.body !== undefined) {
      if (req.chunked === true) {
        outgoing.setHeader("transfer-encoding", "chunked")
        for (let i = 0; i < req.body.length; i += 64 * 1024) outgoing.write(req.body.slice(i, i + 64 * 1024))
      } else {
        outgoing.setHeader("content-length", Buffer.byteLength(req.body))
        outgoing.write(req.body)
      }
    }
    outgoing.end()
  })

/**
 * Writes bytes on a bare socket and reads the reply's status line, headers
 * and body until the server closes, or the reply has been quiet for a while.
 * The socket is not half-closed: Node takes a client's FIN as an abort.
 */
export const sendBytesPromise = (port: number, bytes: string | Buffer): Promise<RawReply> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    const chunks: Array<Buffer> = []
    let quiet: NodeJS.Timeout | undefined
    socket.on("data", (chunk) => {
      chunks.push(chunk)
      clearTimeout(quiet)
      quiet = setTimeout(() => socket.destroy(), 500)
    })
    socket.on("error", reject)
    socket.on("close", () => {
      clearTimeout(quiet)
      const raw = Buffer.concat(chunks).toString("latin1")
      const [head = "", text = ""] = raw.split("\r\n\r\n", 2)
      const [statusLine = "", ...lines] = head.split("\r\n")
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const at = line.indexOf(":")
        if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim()
      }
      resolve({ status: Number(statusLine.split(" ")[1] ?? 0), headers, text, body: parse(text) })
    })
    socket.setTimeout(10_000, () => socket.destroy())
    socket.write(bytes)
  })

/** The port of the test server in context. */
export const serverPort = Effect.map(HttpServer.HttpServer, (server) => {
  const address = server.address
  if (!("port" in address)) throw new Error("the test server is not on TCP")
  return address.port
})

/** `sendPromise` to the test server in context. */
export const send = (req: RawRequest) =>
  Effect.flatMap(serverPort, (port) => Effect.promise(() => sendPromise(port, req)))

/** `sendBytesPromise` to the test server in context. */
export const sendBytes = (bytes: string | Buffer) =>
  Effect.flatMap(serverPort, (port) => Effect.promise(() => sendBytesPromise(port, bytes)))

/** Asserts an RFC 9457 problem of the API's shape with this status (and code). */
export const assertProblem = (
  reply: { readonly status: number; readonly headers: RawReply["headers"]; readonly body: RawReply["body"] },
  status: number,
  code?: string
) => {
  assert.strictEqual(reply.status, status, JSON.stringify(reply.body))
  assert.include(String(reply.headers["content-type"]), "application/problem+json")
  assert.strictEqual(reply.body.status, status)
  assert.strictEqual(reply.body.type, "about:blank")
  assert.isString(reply.body.title)
  assert.isString(reply.body.detail)
  if (code !== undefined) assert.strictEqual(reply.body.code, code)
}
