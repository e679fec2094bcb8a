import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Logger, References } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { Api, ClientErrors, Faults, RouteTable } from "../../src/index.ts"
import { call, makeServer, signUp } from "../ApiHarness.ts"
import { assertProblem, send, sendBytes } from "./RawHttp.ts"

const email = () => `edge-${randomUUID().slice(0, 8)}@example.com`

/** A user with an open account; returns the token. */
const customer = Effect.gen(function* () {
  const { token } = yield* signUp(email())
  yield* call("POST", "/api/accounts", { token })
  return token
})

/** The highest `X-Position` the raw top-ups were answered with: reads wait for it (the read models trail writes). */
let written = 0

const balanceOf = (token: string) =>
  Effect.map(
    call("GET", "/api/accounts/me", { token, headers: { "x-min-position": String(written) } }),
    (reply) => reply.body.balance as string
  )

const topUp = (token: string, body: string | Buffer, options: { chunked?: boolean; contentType?: string } = {}) =>
  send({
    method: "POST",
    path: "/api/accounts/me/top-up",
    headers: { authorization: `Bearer ${token}`, "content-type": options.contentType ?? "application/json" },
    body,
    ...(options.chunked === undefined ? {} : { chunked: options.chunked })
  }).pipe(
    Effect.tap((reply) =>
      Effect.sync(() => {
        written = Math.max(written, Number(reply.headers["x-position"] ?? 0))
      })
    )
  )

const MiB = 1024 * 1024

/** A JSON top-up of 1.00 padded with an ignored field to exactly `size` bytes. */
const paddedTopUp = (size: number) => {
  const shell = JSON.stringify({ amount: "1.00", pad: "" })
  return JSON.stringify({ amount: "1.00", pad: "x".repeat(size - shell.length) })
}

layer(makeServer("edge-faults"), { excludeTestServices: true, timeout: "120 seconds" })(
  "problems at the edge of the real API",
  (it) => {
    describe("body size (413)", () => {
      it.effect("a declared Content-Length over 1 MiB is a 413 problem and the connection is closed", () =>
        Effect.gen(function* () {
          const token = yield* customer
          const reply = yield* topUp(token, paddedTopUp(MiB + 1))
          assertProblem(reply, 413, "payload_too_large")
          assert.strictEqual(reply.headers.connection, "close")
          assert.strictEqual(yield* balanceOf(token), "0.00")
        })
      )

      it.effect("a chunked body without Content-Length is stopped at 1 MiB: 413, never a 500", () =>
        Effect.gen(function* () {
          const token = yield* customer
          for (const size of [MiB + 1, 3 * MiB]) {
            assertProblem(yield* topUp(token, paddedTopUp(size), { chunked: true }), 413, "payload_too_large")
          }
          // The same with an Idempotency-Key, where the edge reads the body itself to hash it.
          const keyed = yield* send({
            method: "POST",
            path: "/api/accounts/me/top-up",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": "k1" },
            body: paddedTopUp(2 * MiB),
            chunked: true
          })
          assertProblem(keyed, 413, "payload_too_large")
          assert.strictEqual(yield* balanceOf(token), "0.00")
        })
      )

      it.effect("a body of exactly 1 MiB is read, chunked or not", () =>
        Effect.gen(function* () {
          const token = yield* customer
          assert.strictEqual((yield* topUp(token, paddedTopUp(MiB))).status, 200)
          assert.strictEqual((yield* topUp(token, paddedTopUp(MiB), { chunked: true })).status, 200)
          assert.strictEqual(yield* balanceOf(token), "2.00")
        })
      )
    })

    describe("content type (415)", () => {
      it.effect("a content type the route does not take is a 415 problem and changes nothing", () =>
        Effect.gen(function* () {
          const token = yield* customer
          for (const contentType of ["text/plain", "application/xml", "multipart/form-data; boundary=x", "garbage"]) {
            const reply = yield* topUp(token, '{"amount":"1.00"}', { contentType })
            assertProblem(reply, 415, "unsupported_media_type")
          }
          const register = yield* send({
            method: "POST",
            path: "/api/auth/register",
            headers: { "content-type": "text/csv" },
            body: "email,password"
          })
          assertProblem(register, 415, "unsupported_media_type")
          assert.strictEqual(yield* balanceOf(token), "0.00")
        })
      )

      it.effect("JSON with a charset parameter or in upper case is still JSON", () =>
        Effect.gen(function* () {
          const token = yield* customer
          for (const contentType of ["application/json; charset=utf-8", "Application/JSON"]) {
            assert.strictEqual((yield* topUp(token, '{"amount":"1.00"}', { contentType })).status, 200)
          }
        })
      )
    })

    describe("routes (404, 405)", () => {
      it.effect("an unknown path is a 404 problem, whatever is in it", () =>
        Effect.gen(function* () {
          for (const path of ["/nope", "/api/nope", "/api/%", "/api/%zz", "/api/accounts/%E0%A4%A", "/api/%C0%AF"]) {
            const reply = yield* send({ method: "GET", path })
            assertProblem(reply, 404, "route_not_found")
            assert.strictEqual(reply.body.detail, `No route for GET ${path}`)
          }
        })
      )

      it.effect("a known path with another method is a 405 problem listing the allowed methods", () =>
        Effect.gen(function* () {
          const cases: Array<[string, string, string]> = [
            ["PUT", "/api/accounts/me", "GET, HEAD, OPTIONS"],
            ["DELETE", "/api/auth/register", "POST, OPTIONS"],
            ["GET", "/api/accounts/me/top-up", "POST, OPTIONS"],
            ["PATCH", "/api/accounts", "POST, OPTIONS"],
            ["POST", "/api/products", "GET, HEAD, OPTIONS"]
          ]
          for (const [method, path, allow] of cases) {
            const reply = yield* send({ method, path })
            assertProblem(reply, 405, "method_not_allowed")
            assert.strictEqual(reply.headers.allow, allow, `${method} ${path}`)
          }
        })
      )

      it.effect("OPTIONS on a known path (no CORS configured) is a 204 with Allow; HEAD follows GET", () =>
        Effect.gen(function* () {
          const options = yield* send({ method: "OPTIONS", path: "/api/accounts/me/top-up" })
          assert.deepStrictEqual([options.status, options.headers.allow], [204, "POST, OPTIONS"])
          const head = yield* send({ method: "HEAD", path: "/api/" })
          assert.strictEqual(head.status, 200)
        })
      )
    })

    describe("NUL characters (400)", () => {
      it.effect("a NUL in the path, the query or the body is a 400 problem, wherever it would have gone", () =>
        Effect.gen(function* () {
          const token = yield* customer
          for (const path of ["/api/products/%00", "/api/products?cursor=a%00", "/api/nope/%00"]) {
            assertProblem(yield* send({ method: "GET", path }), 400, "nul_character")
          }
          const bodies: Array<[string, string]> = [
            ["application/json", JSON.stringify({ username: "a\u0000b@example.com", password: "long enough" })],
            ["application/json", '{"username":"a\\u0000","password":"x"}'],
            ["application/json", '{"username":"a\u0000b","password":"x"}'],
            ["application/x-www-form-urlencoded", "username=a%00b&password=long+enough"]
          ]
          for (const [contentType, body] of bodies) {
            const reply = yield* send({
              method: "POST",
              path: "/api/auth/token",
              headers: { "content-type": contentType },
              body
            })
            assertProblem(reply, 400, "nul_character")
          }
          assertProblem(yield* topUp(token, '{"amount":"1.00","note":"\\u0000"}'), 400, "nul_character")
          assert.strictEqual(yield* balanceOf(token), "0.00")
        })
      )

      it.effect("an escaped backslash before u0000 is just text, not a NUL", () =>
        Effect.gen(function* () {
          const token = yield* customer
          const reply = yield* topUp(token, JSON.stringify({ amount: "1.00", note: "C:\\u0000" }))
          assert.strictEqual(reply.status, 200)
        })
      )
    })

    describe("hostile headers", () => {
      it.effect("a header with bytes outside ASCII, a huge token or a wrong scheme is a 401, not a 500", () =>
        Effect.gen(function* () {
          const latin1 = Buffer.from("Bearer caf\xe9", "latin1").toString("latin1")
          for (const authorization of [latin1, `Bearer ${"a".repeat(9000)}`, "Basic Zm9vOmJhcg==", "Bearer", ""]) {
            assertProblem(yield* send({ method: "GET", path: "/api/auth/me", headers: { authorization } }), 401)
          }
        })
      )

      it.effect("malformed HTTP is refused by the parser with a 4xx, before any route", () =>
        Effect.gen(function* () {
          const garbage = yield* sendBytes("NOT HTTP AT ALL\r\n\r\n")
          assert.strictEqual(garbage.status, 400)
          const huge = yield* sendBytes(`GET /api/ HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`)
          assert.strictEqual(huge.status, 431)
          const control = yield* sendBytes("GET /api/ HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n")
          assert.strictEqual(control.status, 400)
          const length = yield* sendBytes("POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
          assert.strictEqual(length.status, 400)
        })
      )
    })
  }
)

/** A bare server: the fault handling and the parser-error answers, with routes that fail in every way. */
const logged: Array<string> = []
const BareServer = HttpRouter.serve(
  Layer.mergeAll(
    Faults.layer,
    HttpRouter.add("GET", "/defect", Effect.die(new Error("a bug"))),
    HttpRouter.add("GET", "/failure", Effect.fail(new Error("an unexpected failure"))),
    HttpRouter.add("GET", "/empty-500", Effect.succeed(HttpServerResponse.empty({ status: 500 }))),
    HttpRouter.add("GET", "/text-400", Effect.succeed(HttpServerResponse.text("no good", { status: 400 }))),
    HttpRouter.add("GET", "/fine", Effect.succeed(HttpServerResponse.text("fine")))
  ),
  { disableListenLog: true, disableLogger: true }
).pipe(
  Layer.provide(RouteTable.RouteTable.layer(Api)),
  Layer.provideMerge(NodeHttpServer.layer(() => ClientErrors.install(createServer()), { port: 0 })),
  Layer.provide(
    Logger.layer([
      Logger.make(({ message }) => logged.push(Array.isArray(message) ? String(message[0]) : String(message)))
    ])
  ),
  Layer.provide(Layer.succeed(References.MinimumLogLevel, "Error"))
)

layer(BareServer, { excludeTestServices: true })("faults on a bare server", (it) => {
  it.effect("a defect or an unexpected failure is a logged 500 problem that tells nothing of the bug", () =>
    Effect.gen(function* () {
      for (const path of ["/defect", "/failure"]) {
        const reply = yield* send({ method: "GET", path })
        assertProblem(reply, 500, "internal_error")
        assert.notInclude(reply.text, "a bug")
        assert.notInclude(reply.text, "unexpected failure")
      }
      assert.isTrue(logged.some((line) => line.includes("Unhandled failure answering GET /defect")))
      assert.isTrue(logged.some((line) => line.includes("Unhandled failure answering GET /failure")))
    })
  )

  it.effect("an error response without a problem body gets one; a success is left alone", () =>
    Effect.gen(function* () {
      assertProblem(yield* send({ method: "GET", path: "/empty-500" }), 500, "internal_error")
      const text = yield* send({ method: "GET", path: "/text-400" })
      assertProblem(text, 400, "bad_request")
      assert.strictEqual(text.body.detail, "no good")
      const fine = yield* send({ method: "GET", path: "/fine" })
      assert.deepStrictEqual([fine.status, fine.text], [200, "fine"])
    })
  )

  it.effect("requests Node's parser refuses are answered as problems and the connection closed", () =>
    Effect.gen(function* () {
      const cases: Array<[string, number]> = [
        ["NOT HTTP AT ALL\r\n\r\n", 400],
        [`GET /fine HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431],
        ["GET /fine HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n", 400],
        ["POST /fine HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400]
      ]
      for (const [bytes, status] of cases) {
        const reply = yield* sendBytes(bytes)
        assertProblem(reply, status, "malformed_request")
        assert.strictEqual(reply.headers.connection, "close")
      }
    })
  )
})
