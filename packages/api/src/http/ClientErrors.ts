/**
 * Requests Node's HTTP parser refuses before any handler sees them — a
 * malformed request line or header, a header section over the size limit, a
 * bad chunk — answered as problem+json like every other error, instead of
 * Node's bare `400 Bad Request`. The connection is closed after the answer:
 * the parser cannot find the next request in a stream it could not read.
 */
import type { Server } from "node:http"
import type { Duplex } from "node:stream"
import { titleOf } from "./Problem.ts"

const statusOf = (code: string | undefined): number => {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return 431
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return 413
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return 408
    default:
      return 400
  }
}

const detailOf = (status: number): string => {
  switch (status) {
    case 431:
      return "The request's header section is too large"
    case 413:
      return "The request body is too large"
    case 408:
      return "The request was not received in time"
    default:
      return "The request is not valid HTTP"
  }
}

/** Answers a parser error on `socket`, unless the socket is gone or a response has begun. */
export const answer = (error: Error & { readonly code?: string }, socket: Duplex): void => {
  // Node's own default handler makes the same check: a response whose head is out cannot be replaced.
  const current = (socket as { _httpMessage?: { _headerSent?: boolean } | null })._httpMessage
  if (error.code === "ECONNRESET" || !socket.writable || current?._headerSent === true) {
    socket.destroy()
    return
  }
  const status = statusOf(error.code)
  const title = titleOf(status)
  const body = JSON.stringify({
    type: "about:blank",
    title,
    status,
    detail: detailOf(status),
    code: "malformed_request"
  })
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  )
}

/** Installs the answer on a Node HTTP server; returns the server (for `createServer` callbacks). */
export const install = <S extends Server>(server: S): S => {
  server.on("clientError", answer)
  return server
}
