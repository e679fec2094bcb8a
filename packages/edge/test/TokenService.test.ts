import { createHmac } from "node:crypto"
import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { SignJWT } from "jose"
import { TokenService } from "../src/index.ts"

const secret = "a-test-secret-that-is-long-enough-for-hs256"
const user = { userId: "0194f2b3-7c1d-7a00-8000-000000000001", email: "ann@example.com", roles: ["customer"] }
const now = Date.parse("2026-11-23T12:00:00.000Z")

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const claimsAt = (seconds: number, extra: Record<string, unknown> = {}) => ({
  sub: user.userId,
  email: user.email,
  roles: user.roles,
  iss: "agora",
  aud: "agora-api",
  iat: seconds,
  exp: seconds + 3600,
  jti: "t-1",
  ...extra
})
/** A token signed by hand, so tests can forge what `issue` never would. */
const forge = (header: Record<string, unknown>, payload: Record<string, unknown>, key = secret) => {
  const input = `${b64url(header)}.${b64url(payload)}`
  const hash = header.alg === "HS512" ? "sha512" : "sha256"
  return `${input}.${createHmac(hash, key).update(input).digest("base64url")}`
}
const reasonOf = (token: string) =>
  TokenService.use((tokens) => tokens.verify(token)).pipe(
    Effect.flip,
    Effect.map((e) => e.reason)
  )

layer(TokenService.layerTest(secret))("TokenService", (it) => {
  const atNow = TestClock.setTime(now)

  it.effect("verifies the tokens it issues and returns their claims", () =>
    Effect.gen(function* () {
      yield* atNow
      const tokens = yield* TokenService
      const issued = yield* tokens.issue(user)
      assert.strictEqual(issued.expiresIn, 3600)
      const claims = yield* tokens.verify(issued.accessToken)
      assert.strictEqual(claims.userId, user.userId)
      assert.strictEqual(claims.email, user.email)
      assert.deepStrictEqual(claims.roles, user.roles)
      assert.strictEqual(claims.expiresAt, now / 1000 + 3600)
    })
  )

  it.effect("signs HS256 with typ JWT, issuer, audience, iat, exp and a unique id", () =>
    Effect.gen(function* () {
      yield* atNow
      const tokens = yield* TokenService
      const [header, payload] = (yield* tokens.issue(user)).accessToken.split(".")
      assert.deepStrictEqual(JSON.parse(Buffer.from(header!, "base64url").toString()), { alg: "HS256", typ: "JWT" })
      const body = JSON.parse(Buffer.from(payload!, "base64url").toString())
      assert.include(body, { iss: "agora", aud: "agora-api", iat: now / 1000, exp: now / 1000 + 3600 })
      const other = JSON.parse(
        Buffer.from((yield* tokens.issue(user)).accessToken.split(".")[1]!, "base64url").toString()
      )
      assert.notStrictEqual(body.jti, other.jti)
    })
  )

  it.effect("accepts a token until its expiry and refuses it from then on", () =>
    Effect.gen(function* () {
      yield* atNow
      const tokens = yield* TokenService
      const { accessToken } = yield* tokens.issue(user)
      yield* TestClock.adjust("59 minutes")
      yield* tokens.verify(accessToken)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* reasonOf(accessToken), "expired")
    })
  )

  it.effect("refuses a token signed with another secret", () =>
    Effect.gen(function* () {
      yield* atNow
      const token = forge({ alg: "HS256", typ: "JWT" }, claimsAt(now / 1000), "another-secret-another-secret-another")
      assert.strictEqual(yield* reasonOf(token), "bad_signature")
    })
  )

  it.effect("refuses a token whose payload was changed after signing", () =>
    Effect.gen(function* () {
      yield* atNow
      const [header, , signature] = (yield* (yield* TokenService).issue(user)).accessToken.split(".")
      const promoted = `${header}.${b64url(claimsAt(now / 1000, { roles: ["admin"] }))}.${signature}`
      assert.strictEqual(yield* reasonOf(promoted), "bad_signature")
    })
  )

  it.effect("refuses alg none and any algorithm other than HS256, even with the right key", () =>
    Effect.gen(function* () {
      yield* atNow
      const unsecured = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claimsAt(now / 1000))}.`
      assert.oneOf(yield* reasonOf(unsecured), ["algorithm_not_allowed", "malformed"])
      const hs512 = forge({ alg: "HS512", typ: "JWT" }, claimsAt(now / 1000))
      assert.strictEqual(yield* reasonOf(hs512), "algorithm_not_allowed")
      const hs384 = yield* Effect.promise(() =>
        new SignJWT(claimsAt(now / 1000))
          .setProtectedHeader({ alg: "HS384", typ: "JWT" })
          .sign(new TextEncoder().encode(secret))
      )
      assert.strictEqual(yield* reasonOf(hs384), "algorithm_not_allowed")
    })
  )

  it.effect("refuses a token for another issuer or audience, or without a required claim", () =>
    Effect.gen(function* () {
      yield* atNow
      const at = now / 1000
      const sign = (payload: Record<string, unknown>) => forge({ alg: "HS256", typ: "JWT" }, payload)
      assert.strictEqual(yield* reasonOf(sign(claimsAt(at, { iss: "someone-else" }))), "bad_claims")
      assert.strictEqual(yield* reasonOf(sign(claimsAt(at, { aud: "another-api" }))), "bad_claims")
      const { exp: _exp, ...withoutExp } = claimsAt(at)
      assert.strictEqual(yield* reasonOf(sign(withoutExp)), "bad_claims")
      assert.strictEqual(yield* reasonOf(sign(claimsAt(at, { roles: "admin" }))), "bad_claims")
      assert.strictEqual(yield* reasonOf(sign(claimsAt(at, { sub: "" }))), "bad_claims")
      assert.strictEqual(yield* reasonOf(forge({ alg: "HS256", typ: "refresh" }, claimsAt(at))), "bad_claims")
    })
  )

  it.effect("refuses garbage, empty and oversized tokens as malformed", () =>
    Effect.gen(function* () {
      yield* atNow
      for (const token of ["", "abc", "a.b.c", "....", "x".repeat(10_000), `${b64url({ alg: "HS256" })}.e30`]) {
        assert.oneOf(yield* reasonOf(token), ["malformed", "bad_signature"], token.slice(0, 20))
      }
    })
  )
})

describe("TokenService.layer (from config)", () => {
  const build = (config: Record<string, string>) =>
    Effect.gen(function* () {
      const tokens = yield* TokenService
      return yield* tokens.issue(user)
    }).pipe(
      Effect.provide(TokenService.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(config)))))
    )

  it.effect("reads JWT_SECRET and JWT_TTL", () =>
    Effect.gen(function* () {
      const issued = yield* build({ JWT_SECRET: secret, JWT_TTL: "15 minutes" })
      assert.strictEqual(issued.expiresIn, 900)
    })
  )

  it.effect("checks JWT_ISSUER and JWT_AUDIENCE on verify", () =>
    Effect.gen(function* () {
      const config = { JWT_SECRET: secret, JWT_ISSUER: "shop", JWT_AUDIENCE: "shop-api" }
      const issued = yield* build(config)
      assert.strictEqual(yield* reasonOf(issued.accessToken), "bad_claims")
    }).pipe(Effect.provide(TokenService.layerTest(secret)))
  )

  it.effect("fails without JWT_SECRET", () =>
    Effect.gen(function* () {
      const error = yield* build({}).pipe(Effect.flip)
      assert.strictEqual(error._tag, "ConfigError")
    })
  )

  it.effect("fails on a secret shorter than 32 bytes, without printing it", () =>
    Effect.gen(function* () {
      const error = yield* build({ JWT_SECRET: "short-secret-value" }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(error.message, "at least 32 bytes")
      assert.notInclude(error.message, "short-secret-value")
    })
  )
})
