import { randomUUID } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { makeServer, signUp } from "../ApiHarness.ts"
import { assertProblem, send } from "./RawHttp.ts"

const email = () => `limit-${randomUUID().slice(0, 8)}@example.com`

// Five tokens per bucket, refilled so slowly that none comes back during the test.
const tiny = { RATE_LIMIT_CAPACITY: "5", RATE_LIMIT_REFILL_PER_SECOND: "0.01" }

layer(makeServer("edge-ratelimit", { config: tiny }), { excludeTestServices: true, timeout: "120 seconds" })(
  "rate limits (Redis when REDIS_URL is set)",
  (it) => {
    it.effect("every response carries RateLimit headers; past the capacity it is a 429 problem with Retry-After", () =>
      Effect.gen(function* () {
        // The sign-up takes two tokens from the address's bucket; from then on the user has a bucket of its own.
        const { token } = yield* signUp(email())
        const me = () => send({ method: "GET", path: "/api/auth/me", headers: { authorization: `Bearer ${token}` } })
        const remaining: Array<string | undefined> = []
        for (let i = 0; i < 5; i++) {
          const reply = yield* me()
          assert.strictEqual(reply.status, 200)
          assert.strictEqual(reply.headers["ratelimit-limit"], "5")
          assert.match(String(reply.headers["ratelimit-reset"]), /^\d+$/)
          remaining.push(reply.headers["ratelimit-remaining"] as string)
        }
        assert.deepStrictEqual(remaining, ["4", "3", "2", "1", "0"])
        const limited = yield* me()
        assertProblem(limited, 429, "rate_limited")
        const retryAfter = Number(limited.headers["retry-after"])
        assert.isTrue(Number.isInteger(retryAfter) && retryAfter >= 1, String(limited.headers["retry-after"]))
        assert.strictEqual(limited.headers["ratelimit-remaining"], "0")
        assert.strictEqual(limited.headers["ratelimit-limit"], "5")
      })
    )

    it.effect("users and anonymous callers have buckets of their own; a forged token counts as anonymous", () =>
      Effect.gen(function* () {
        // A fresh user still has a full bucket although the previous one is empty…
        const { token } = yield* signUp(email())
        const first = yield* send({
          method: "GET",
          path: "/api/auth/me",
          headers: { authorization: `Bearer ${token}` }
        })
        assert.deepStrictEqual([first.status, first.headers["ratelimit-remaining"]], [200, "4"])
        // …while the address's bucket, drained by the sign-ups, answers 429 to anonymous and forged callers alike.
        for (let i = 0; i < 6; i++) yield* send({ method: "GET", path: "/api/" })
        assertProblem(yield* send({ method: "GET", path: "/api/" }), 429, "rate_limited")
        const forged = yield* send({
          method: "GET",
          path: "/api/auth/me",
          headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` }
        })
        assertProblem(forged, 429, "rate_limited")
      })
    )

    it.effect("health, readiness and metrics are never limited and carry no RateLimit headers", () =>
      Effect.gen(function* () {
        for (const path of ["/api/health", "/api/ready", "/metrics"]) {
          // The address's bucket is empty by now. Health and readiness are not served by this
          // API-only server (a 404), metrics are (a 200): neither is a 429.
          const reply = yield* send({ method: "GET", path })
          assert.strictEqual(reply.status, path === "/metrics" ? 200 : 404)
          assert.isUndefined(reply.headers["ratelimit-limit"])
        }
      })
    )
  }
)

const origin = "https://shop.example.com"

layer(makeServer("edge-cors", { config: { CORS_ORIGINS: `${origin}, http://localhost:5173/` } }), {
  excludeTestServices: true,
  timeout: "120 seconds"
})("CORS with configured origins", (it) => {
  it.effect("a preflight from an allowed origin is a 204 allowing the API's headers", () =>
    Effect.gen(function* () {
      const reply = yield* send({
        method: "OPTIONS",
        path: "/api/accounts/me/top-up",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type, idempotency-key"
        }
      })
      assert.strictEqual(reply.status, 204)
      assert.strictEqual(reply.headers["access-control-allow-origin"], origin)
      assert.sameMembers(String(reply.headers["access-control-allow-headers"]).split(","), [
        "authorization",
        "content-type",
        "idempotency-key",
        "x-min-position",
        "x-request-id"
      ])
      assert.include(String(reply.headers["access-control-allow-methods"]), "POST")
      assert.strictEqual(reply.headers["access-control-max-age"], "600")
      assert.isUndefined(reply.headers["access-control-allow-credentials"])
    })
  )

  it.effect("responses to an allowed origin, errors included, expose the rate-limit and replay headers", () =>
    Effect.gen(function* () {
      for (const path of ["/api/", "/api/no-such-route"]) {
        const reply = yield* send({ method: "GET", path, headers: { origin: "http://localhost:5173" } })
        assert.strictEqual(reply.headers["access-control-allow-origin"], "http://localhost:5173")
        assert.includeMembers(String(reply.headers["access-control-expose-headers"]).split(","), [
          "ratelimit-limit",
          "ratelimit-remaining",
          "ratelimit-reset",
          "retry-after",
          "idempotent-replayed",
          "x-request-id"
        ])
        assert.isDefined(reply.headers["ratelimit-limit"])
      }
    })
  )

  it.effect("another origin gets no Access-Control-Allow-Origin", () =>
    Effect.gen(function* () {
      const reply = yield* send({
        method: "OPTIONS",
        path: "/api/auth/token",
        headers: { origin: "https://evil.example", "access-control-request-method": "POST" }
      })
      assert.isUndefined(reply.headers["access-control-allow-origin"])
      const get = yield* send({ method: "GET", path: "/api/", headers: { origin: "https://evil.example" } })
      assert.isUndefined(get.headers["access-control-allow-origin"])
    })
  )
})

layer(makeServer("edge-cors-any", { config: { CORS_ORIGINS: "*" } }), {
  excludeTestServices: true,
  timeout: "120 seconds"
})("CORS open to any origin", (it) => {
  it.effect("any origin is allowed, without credentials", () =>
    Effect.gen(function* () {
      const reply = yield* send({
        method: "OPTIONS",
        path: "/api/auth/register",
        headers: { origin: "https://anywhere.example", "access-control-request-method": "POST" }
      })
      assert.deepStrictEqual([reply.status, reply.headers["access-control-allow-origin"]], [204, "*"])
      assert.isUndefined(reply.headers["access-control-allow-credentials"])
    })
  )
})

layer(makeServer("edge-cors-none"), { excludeTestServices: true, timeout: "120 seconds" })(
  "CORS by default (no CORS_ORIGINS)",
  (it) => {
    it.effect("no origin is allowed: a preflight gets only the Allow of the route", () =>
      Effect.gen(function* () {
        const reply = yield* send({
          method: "OPTIONS",
          path: "/api/auth/register",
          headers: { origin: "https://shop.example.com", "access-control-request-method": "POST" }
        })
        assert.deepStrictEqual([reply.status, reply.headers.allow], [204, "POST, OPTIONS"])
        assert.isUndefined(reply.headers["access-control-allow-origin"])
        assert.isUndefined(reply.headers["access-control-allow-methods"])
      })
    )
  }
)
