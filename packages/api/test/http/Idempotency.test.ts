import { randomUUID } from "node:crypto"
import { connect } from "node:net"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { call, makeServer, observePosition, signUp } from "../ApiHarness.ts"
import { assertProblem, send, serverPort } from "./RawHttp.ts"

const email = () => `idem-${randomUUID().slice(0, 8)}@example.com`
const key = () => `key-${randomUUID()}`

const customer = Effect.gen(function* () {
  const { token } = yield* signUp(email())
  yield* call("POST", "/api/accounts", { token })
  return token
})

// Raw requests: their X-Position is noted so that `account` reads what they wrote.
const topUp = (token: string, amount: unknown, idempotencyKey?: string) =>
  send({
    method: "POST",
    path: "/api/accounts/me/top-up",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey })
    },
    body: JSON.stringify({ amount })
  }).pipe(Effect.tap((reply) => Effect.sync(() => observePosition(reply.headers["x-position"]))))

const topUpBytes = (token: string, idempotencyKey: string, body: string) =>
  [
    "POST /api/accounts/me/top-up HTTP/1.1",
    "Host: 127.0.0.1",
    `Authorization: Bearer ${token}`,
    "Content-Type: application/json",
    `Idempotency-Key: ${idempotencyKey}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    "",
    body
  ].join("\r\n")

/** Sends a whole request and drops the connection `delay` ms later, without waiting for the answer. */
const hangUpAfter = (port: number, delay: number, bytes: string) =>
  new Promise<void>((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(bytes)
      setTimeout(() => {
        socket.destroy()
        resolve()
      }, delay)
    })
    socket.on("error", () => resolve())
  })

const account = (token: string) =>
  Effect.gen(function* () {
    const me = yield* call("GET", "/api/accounts/me", { token })
    const ledger = yield* call("GET", "/api/accounts/me/transactions?limit=100", { token })
    return { balance: me.body.balance as string, entries: (ledger.body.data as Array<unknown>).length }
  })

layer(makeServer("edge-idempotency"), { excludeTestServices: true, timeout: "120 seconds" })(
  "Idempotency-Key on POST",
  (it) => {
    it.effect("the same key and body twice: one top-up, the same answer replayed with Idempotent-Replayed", () =>
      Effect.gen(function* () {
        const token = yield* customer
        const k = key()
        const first = yield* topUp(token, "10.00", k)
        const again = yield* topUp(token, "10.00", k)
        assert.strictEqual(first.status, 200)
        assert.isUndefined(first.headers["idempotent-replayed"])
        assert.strictEqual(again.status, 200)
        assert.strictEqual(again.headers["idempotent-replayed"], "true")
        assert.strictEqual(again.text, first.text)
        assert.strictEqual(again.headers["content-type"], first.headers["content-type"])
        assert.deepStrictEqual(yield* account(token), { balance: "10.00", entries: 1 })
      })
    )

    it.effect("a 4xx is stored and replayed too; a fresh key runs again", () =>
      Effect.gen(function* () {
        const token = yield* customer
        const k = key()
        const first = yield* topUp(token, "-5", k)
        assertProblem(first, 422)
        const again = yield* topUp(token, "-5", k)
        assertProblem(again, 422)
        assert.strictEqual(again.headers["idempotent-replayed"], "true")
        assert.strictEqual(again.text, first.text)
        assert.strictEqual((yield* topUp(token, "1.00", key())).status, 200)
        assert.deepStrictEqual(yield* account(token), { balance: "1.00", entries: 1 })
      })
    )

    it.effect("the same key with a different body is a 422 problem and changes nothing", () =>
      Effect.gen(function* () {
        const token = yield* customer
        const k = key()
        assert.strictEqual((yield* topUp(token, "10.00", k)).status, 200)
        const other = yield* topUp(token, "20.00", k)
        assertProblem(other, 422, "idempotency_key_reused")
        assert.deepStrictEqual(other.body.errors[0].path, ["headers", "idempotency-key"])
        assert.deepStrictEqual(yield* account(token), { balance: "10.00", entries: 1 })
      })
    )

    it.effect("10 identical keyed top-ups at once apply once; the others are replays or 409 problems", () =>
      Effect.gen(function* () {
        const token = yield* customer
        const k = key()
        const replies = yield* Effect.forEach(Array.from({ length: 10 }), () => topUp(token, "7.00", k), {
          concurrency: "unbounded"
        })
        const executed = replies.filter((r) => r.status === 200 && r.headers["idempotent-replayed"] === undefined)
        const replayed = replies.filter((r) => r.status === 200 && r.headers["idempotent-replayed"] === "true")
        const inFlight = replies.filter((r) => r.status === 409)
        assert.strictEqual(executed.length, 1, JSON.stringify(replies.map((r) => r.status)))
        assert.strictEqual(executed.length + replayed.length + inFlight.length, 10)
        for (const r of inFlight) {
          assertProblem(r, 409, "idempotency_key_in_use")
          assert.strictEqual(r.headers["retry-after"], "1")
        }
        for (const r of replayed) assert.strictEqual(r.text, executed[0]?.text)
        assert.deepStrictEqual(yield* account(token), { balance: "7.00", entries: 1 })
        // Once the first is done, a retry is a replay.
        const later = yield* topUp(token, "7.00", k)
        assert.strictEqual(later.headers["idempotent-replayed"], "true")
      })
    )

    it.effect("a client that hangs up mid-request and retries gets its top-up once", () =>
      Effect.gen(function* () {
        const token = yield* customer
        const port = yield* serverPort
        const delays = [0, 1, 2, 3, 5, 8, 13, 21]
        for (const delay of delays) {
          const k = key()
          const body = JSON.stringify({ amount: "1.00" })
          yield* Effect.promise(() => hangUpAfter(port, delay, topUpBytes(token, k, body)))
          // Retry until the first attempt has finished one way or the other.
          let reply = yield* topUp(token, "1.00", k)
          for (let i = 0; reply.status === 409 && i < 50; i++) {
            yield* Effect.sleep("20 millis")
            reply = yield* topUp(token, "1.00", k)
          }
          assert.strictEqual(reply.status, 200, reply.text)
        }
        assert.deepStrictEqual(yield* account(token), { balance: `${delays.length}.00`, entries: delays.length })
      })
    )

    it.effect("an invalid key is a 400 problem and nothing runs", () =>
      Effect.gen(function* () {
        const token = yield* customer
        const invalid = ["", "x".repeat(256), Buffer.from("caf\xe9", "latin1").toString("latin1"), "tab\there"]
        for (const k of invalid) {
          const reply = yield* topUp(token, "1.00", k)
          assertProblem(reply, 400, "invalid_idempotency_key")
        }
        assert.strictEqual((yield* topUp(token, "1.00", "x".repeat(255))).status, 200)
        assert.deepStrictEqual(yield* account(token), { balance: "1.00", entries: 1 })
      })
    )

    it.effect("without the header every request runs", () =>
      Effect.gen(function* () {
        const token = yield* customer
        for (let i = 0; i < 3; i++) assert.strictEqual((yield* topUp(token, "1.00")).status, 200)
        assert.deepStrictEqual(yield* account(token), { balance: "3.00", entries: 3 })
      })
    )

    describe("scope", () => {
      it.effect("keys are per user: two users may use the same key", () =>
        Effect.gen(function* () {
          const alice = yield* customer
          const bob = yield* customer
          const k = key()
          assert.strictEqual((yield* topUp(alice, "1.00", k)).status, 200)
          const bobs = yield* topUp(bob, "1.00", k)
          assert.strictEqual(bobs.status, 200)
          assert.isUndefined(bobs.headers["idempotent-replayed"])
          assert.strictEqual((yield* account(bob)).balance, "1.00")
        })
      )

      it.effect("keys are per route: the same key on another route is not a mismatch", () =>
        Effect.gen(function* () {
          const { token } = yield* signUp(email())
          const k = key()
          const open = yield* send({
            method: "POST",
            path: "/api/accounts",
            headers: { authorization: `Bearer ${token}`, "idempotency-key": k }
          })
          assert.strictEqual(open.status, 201)
          assert.strictEqual((yield* topUp(token, "2.00", k)).status, 200)
          // Replayed, not "account exists".
          const reopen = yield* send({
            method: "POST",
            path: "/api/accounts",
            headers: { authorization: `Bearer ${token}`, "idempotency-key": k }
          })
          assert.deepStrictEqual([reopen.status, reopen.headers["idempotent-replayed"]], [201, "true"])
          assert.strictEqual(reopen.text, open.text)
        })
      )

      it.effect("anonymous callers are scoped by address: a retried registration replays its 201", () =>
        Effect.gen(function* () {
          const k = key()
          const body = JSON.stringify({ email: email(), password: "long enough" })
          const register = () =>
            send({
              method: "POST",
              path: "/api/auth/register",
              headers: { "content-type": "application/json", "idempotency-key": k },
              body
            })
          const first = yield* register()
          const again = yield* register()
          assert.deepStrictEqual([first.status, again.status], [201, 201])
          assert.strictEqual(again.headers["idempotent-replayed"], "true")
          assert.strictEqual(again.text, first.text)
        })
      )

      it.effect("a forged token does not reach the user's keys: it is scoped as anonymous", () =>
        Effect.gen(function* () {
          const token = yield* customer
          const k = key()
          assert.strictEqual((yield* topUp(token, "3.00", k)).status, 200)
          const forged = yield* topUp(`${token.slice(0, -4)}AAAA`, "3.00", k)
          assertProblem(forged, 401)
          assert.isUndefined(forged.headers["idempotent-replayed"])
        })
      )
    })
  }
)
