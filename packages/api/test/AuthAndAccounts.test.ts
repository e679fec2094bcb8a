import { randomUUID } from "node:crypto"
import { Accounts } from "@agora/app"
import { Money } from "@agora/domain"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { adminEmail, assertProblem, call, makeServer, type Reply, signUp } from "./ApiHarness.ts"

const email = () => `user-${randomUUID().slice(0, 8)}@example.com`

layer(makeServer("api-auth"), { excludeTestServices: true, timeout: "120 seconds" })(
  "auth and accounts over HTTP",
  (it) => {
    it.effect("GET /api/ tells what the server is", () =>
      Effect.gen(function* () {
        const reply = yield* call("GET", "/api/")
        assert.deepStrictEqual([reply.status, reply.body.name], [200, "agora"])
      })
    )

    describe("POST /api/auth/register", () => {
      it.effect("registers with a normalised email and answers 201", () =>
        Effect.gen(function* () {
          const address = email()
          const reply = yield* call("POST", "/api/auth/register", {
            json: { email: `  ${address.toUpperCase()} `, password: "long enough" }
          })
          assert.strictEqual(reply.status, 201)
          assert.strictEqual(reply.body.email, address)
          assert.match(reply.body.id, /^[0-9a-f-]{36}$/)
          assert.isFalse(Number.isNaN(Date.parse(reply.body.created_at)))
        })
      )

      it.effect("a taken email is a 409 problem", () =>
        Effect.gen(function* () {
          const address = email()
          yield* call("POST", "/api/auth/register", { json: { email: address, password: "long enough" } })
          const again = yield* call("POST", "/api/auth/register", {
            json: { email: address, password: "other password" }
          })
          assertProblem(again, 409, "email_taken")
        })
      )

      it.effect("an invalid email or a short password is a 422 naming the field", () =>
        Effect.gen(function* () {
          const badEmail = yield* call("POST", "/api/auth/register", {
            json: { email: "nope", password: "long enough" }
          })
          assertProblem(badEmail, 422)
          assert.deepStrictEqual(badEmail.body.errors[0].path, ["payload", "email"])
          const short = yield* call("POST", "/api/auth/register", { json: { email: email(), password: "short" } })
          assertProblem(short, 422)
          assert.deepStrictEqual(short.body.errors[0].path, ["payload", "password"])
        })
      )

      it.effect("wrong types are a 422 listing each field; unparseable JSON is a 400", () =>
        Effect.gen(function* () {
          const types = yield* call("POST", "/api/auth/register", { json: { email: 42 } })
          assertProblem(types, 422, "validation_failed")
          const paths = (types.body.errors as Array<{ path: Array<string> }>).map((e) => e.path.join("."))
          assert.includeMembers(paths, ["payload.email", "payload.password"])
          const garbage = yield* call("POST", "/api/auth/register", { text: "{not json" })
          assertProblem(garbage, 400, "malformed_json")
        })
      )
    })

    describe("POST /api/auth/token and GET /api/auth/me", () => {
      it.effect("signs in with JSON or a form, and /me shows the caller", () =>
        Effect.gen(function* () {
          const address = email()
          yield* call("POST", "/api/auth/register", { json: { email: address, password: "long enough" } })
          const json = yield* call("POST", "/api/auth/token", { json: { username: address, password: "long enough" } })
          assert.strictEqual(json.status, 200)
          assert.strictEqual(json.body.token_type, "bearer")
          assert.isAbove(json.body.expires_in, 0)
          const form = yield* call("POST", "/api/auth/token", { form: { username: address, password: "long enough" } })
          assert.strictEqual(form.status, 200)
          const me = yield* call("GET", "/api/auth/me", { token: form.body.access_token })
          assert.strictEqual(me.status, 200)
          assert.deepStrictEqual([me.body.email, me.body.roles], [address, ["customer"]])
        })
      )

      it.effect("a wrong password and an unknown email are the same 401", () =>
        Effect.gen(function* () {
          const address = email()
          yield* call("POST", "/api/auth/register", { json: { email: address, password: "long enough" } })
          const wrong = yield* call("POST", "/api/auth/token", {
            json: { username: address, password: "not it at all" }
          })
          const unknown = yield* call("POST", "/api/auth/token", {
            json: { username: email(), password: "long enough" }
          })
          assertProblem(wrong, 401, "invalid_credentials")
          assert.deepStrictEqual(unknown.body, wrong.body)
        })
      )

      it.effect("no token, a forged token or garbage is a 401", () =>
        Effect.gen(function* () {
          assertProblem(yield* call("GET", "/api/auth/me"), 401)
          assertProblem(yield* call("GET", "/api/auth/me", { token: "garbage" }), 401)
          const forged = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from(
            JSON.stringify({ sub: randomUUID(), email: "x@y.z", roles: ["admin"] })
          ).toString("base64url")}.`
          assertProblem(yield* call("GET", "/api/auth/me", { token: forged }), 401)
        })
      )

      it.effect("an address listed in ADMIN_EMAILS signs in with the admin role", () =>
        Effect.gen(function* () {
          const { token } = yield* signUp(adminEmail)
          const me = yield* call("GET", "/api/auth/me", { token })
          assert.includeMembers(me.body.roles, ["admin", "customer"])
        })
      )
    })

    describe("payment accounts", () => {
      it.effect("open, read, top up and list the ledger newest first, in pages", () =>
        Effect.gen(function* () {
          const { token, id } = yield* signUp(email())
          const none = yield* call("GET", "/api/accounts/me", { token })
          assertProblem(none, 404, "no_account")
          const opened = yield* call("POST", "/api/accounts", { token })
          assert.deepStrictEqual([opened.status, opened.body], [201, { user_id: id, balance: "0.00", currency: "RUB" }])
          assertProblem(yield* call("POST", "/api/accounts", { token }), 409, "account_exists")
          for (const amount of ["100.50", 20, "0.05"]) {
            const r = yield* call("POST", "/api/accounts/me/top-up", { token, json: { amount } })
            assert.strictEqual(r.status, 200)
          }
          const me = yield* call("GET", "/api/accounts/me", { token })
          assert.strictEqual(me.body.balance, "120.55")
          const first = yield* call("GET", "/api/accounts/me/transactions?limit=2", { token })
          assert.deepStrictEqual(
            first.body.data.map((t: { amount: string; balance_after: string }) => [t.amount, t.balance_after]),
            [
              ["0.05", "120.55"],
              ["20.00", "120.50"]
            ]
          )
          assert.isString(first.body.next_cursor)
          const rest = yield* call("GET", `/api/accounts/me/transactions?limit=2&cursor=${first.body.next_cursor}`, {
            token
          })
          assert.deepStrictEqual(
            rest.body.data.map((t: { kind: string; amount: string }) => [t.kind, t.amount]),
            [["top_up", "100.50"]]
          )
          assert.isNull(rest.body.next_cursor)
        })
      )

      it.effect("bad amounts are 422 and change nothing", () =>
        Effect.gen(function* () {
          const { token } = yield* signUp(email())
          yield* call("POST", "/api/accounts", { token })
          for (const amount of [0, "0.00", -1, "-5", "1.005", "1e3", "NaN", 1000000.01, "abc", true, null]) {
            const r = yield* call("POST", "/api/accounts/me/top-up", { token, json: { amount } })
            assertProblem(r, 422)
            assert.deepStrictEqual(r.body.errors[0].path, ["payload", "amount"], JSON.stringify(amount))
          }
          const ok = yield* call("POST", "/api/accounts/me/top-up", { token, json: { amount: "1000000.00" } })
          assert.strictEqual(ok.status, 200)
          assert.strictEqual((yield* call("GET", "/api/accounts/me", { token })).body.balance, "1000000.00")
        })
      )

      it.effect("50 parallel top-ups of 1.00 give exactly 50.00", () =>
        Effect.gen(function* () {
          const { token } = yield* signUp(email())
          yield* call("POST", "/api/accounts", { token })
          const replies = yield* Effect.forEach(
            Array.from({ length: 50 }),
            () => call("POST", "/api/accounts/me/top-up", { token, json: { amount: "1.00" } }),
            { concurrency: "unbounded" }
          )
          assert.isTrue(replies.every((r) => r.status === 200))
          assert.strictEqual((yield* call("GET", "/api/accounts/me", { token })).body.balance, "50.00")
        })
      )

      it.effect("the ledger pages through 230 movements newest first, each once, balances running", () =>
        Effect.gen(function* () {
          const { token, id } = yield* signUp(email())
          yield* call("POST", "/api/accounts", { token })
          const accounts = yield* Accounts.Accounts
          for (let i = 1; i <= 230; i++) yield* Effect.orDie(accounts.topUp(id, Money.make(i)))
          // A retried top-up (same transaction id) credits once.
          yield* Effect.orDie(accounts.topUp(id, Money.make(5), "tx-retried"))
          yield* Effect.orDie(accounts.topUp(id, Money.make(5), "tx-retried"))
          const seen: Array<{ id: string; amount: string; balance_after: string }> = []
          let cursor: string | null = null
          do {
            const page: Reply = yield* call(
              "GET",
              `/api/accounts/me/transactions?limit=100${cursor === null ? "" : `&cursor=${cursor}`}`,
              { token }
            )
            assert.strictEqual(page.status, 200)
            seen.push(...page.body.data)
            cursor = page.body.next_cursor
          } while (cursor !== null)
          assert.strictEqual(seen.length, 231)
          assert.strictEqual(new Set(seen.map((e) => e.id)).size, 231)
          assert.deepStrictEqual(seen[0], { ...seen[0]!, id: "tx-retried", amount: "0.05" })
          const oldestFirst = [...seen].reverse()
          let running = 0
          for (const entry of oldestFirst) {
            running += Math.round(Number(entry.amount) * 100)
            assert.strictEqual(Math.round(Number(entry.balance_after) * 100), running)
          }
          assert.strictEqual((yield* call("GET", "/api/accounts/me", { token })).body.balance, "265.70")
        })
      )

      it.effect("account routes need a token", () =>
        Effect.gen(function* () {
          assertProblem(yield* call("GET", "/api/accounts/me"), 401)
          assertProblem(yield* call("POST", "/api/accounts/me/top-up", { json: { amount: 1 } }), 401)
        })
      )
    })

    it.effect("the OpenAPI document lists every route of the contract", () =>
      Effect.gen(function* () {
        const doc = yield* call("GET", "/api/openapi.json")
        assert.strictEqual(doc.status, 200)
        assert.includeMembers(Object.keys(doc.body.paths), [
          "/api",
          "/api/auth/register",
          "/api/auth/token",
          "/api/auth/me",
          "/api/accounts",
          "/api/accounts/me",
          "/api/accounts/me/top-up",
          "/api/accounts/me/transactions"
        ])
      })
    )
  }
)
