import { assert, describe, it, layer } from "@effect/vitest"
import { Clock, Effect, Fiber, Redacted, Ref, Schedule } from "effect"
import {
  argon2idDefaults,
  decodePasswordHash,
  defaultHashParams,
  hasArgon2,
  PasswordHasher,
  scryptDefaults,
  testHashParams
} from "../src/index.ts"

const secret = (s: string) => Redacted.make(s)

layer(PasswordHasher.layerTest)("PasswordHasher (test parameters)", (it) => {
  it.effect("verifies the password it hashed and refuses any other", () =>
    Effect.gen(function* () {
      const hasher = yield* PasswordHasher
      const encoded = yield* hasher.hash(secret("correct horse battery staple"))
      assert.isTrue(yield* hasher.verify(secret("correct horse battery staple"), encoded))
      assert.isFalse(yield* hasher.verify(secret("correct horse battery stapler"), encoded))
      assert.isFalse(yield* hasher.verify(secret(""), encoded))
    })
  )

  it.effect("salts every hash, so equal passwords give different hashes", () =>
    Effect.gen(function* () {
      const hasher = yield* PasswordHasher
      const a = yield* hasher.hash(secret("same password"))
      const b = yield* hasher.hash(secret("same password"))
      assert.notStrictEqual(a, b)
      assert.notStrictEqual(decodePasswordHash(a)?.salt.toString("hex"), decodePasswordHash(b)?.salt.toString("hex"))
    })
  )

  it.effect("writes a self-describing PHC string that names the algorithm and its parameters", () =>
    Effect.gen(function* () {
      const encoded = yield* (yield* PasswordHasher).hash(secret("pw"))
      const decoded = decodePasswordHash(encoded)
      assert.deepStrictEqual(decoded?.params, testHashParams)
      assert.strictEqual(decoded?.salt.length, 16)
      assert.strictEqual(decoded?.key.length, 32)
      assert.match(encoded, hasArgon2 ? /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/ : /^\$scrypt\$ln=\d+,r=\d+,p=\d+\$/)
      assert.notInclude(encoded, "pw$")
    })
  )

  it.effect("accepts the same password typed in another Unicode form (NFKC)", () =>
    Effect.gen(function* () {
      const hasher = yield* PasswordHasher
      const composed = "caf\u00e9 \ufb01le" // é as one code point, the "fi" ligature
      const decomposed = "cafe\u0301 file"
      const encoded = yield* hasher.hash(secret(composed))
      assert.isTrue(yield* hasher.verify(secret(decomposed), encoded))
    })
  )

  it.effect("refuses a malformed or tampered stored hash instead of failing", () =>
    Effect.gen(function* () {
      const hasher = yield* PasswordHasher
      const encoded = yield* hasher.hash(secret("pw"))
      for (const bad of ["", "plaintext", "$argon2id$v=19$m=64,t=1,p=1$$", "$md5$abc$def", encoded.slice(0, -4)]) {
        assert.isFalse(yield* hasher.verify(secret("pw"), bad), bad)
      }
      const flipped = encoded.slice(0, -2) + (encoded.at(-2) === "A" ? "B" : "A") + encoded.at(-1)
      assert.isFalse(yield* hasher.verify(secret("pw"), flipped))
    })
  )

  it.effect("refuses a stored hash that asks for absurd parameters without running the KDF", () =>
    Effect.gen(function* () {
      const hasher = yield* PasswordHasher
      const salt = "c2FsdHNhbHRzYWx0c2FsdA"
      const key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
      assert.isFalse(yield* hasher.verify(secret("pw"), `$argon2id$v=19$m=99999999,t=3,p=1$${salt}$${key}`))
      assert.isFalse(yield* hasher.verify(secret("pw"), `$scrypt$ln=30,r=8,p=1$${salt}$${key}`))
    })
  )

  it.effect("runs the KDF for an unknown user and answers false", () =>
    Effect.gen(function* () {
      const hasher = yield* PasswordHasher
      assert.isFalse(yield* hasher.verifyAgainstDummy(secret("anything")))
    })
  )

  it.effect("asks for a rehash when a stored hash was made with other parameters", () =>
    Effect.gen(function* () {
      const hasher = yield* PasswordHasher
      assert.isFalse(hasher.needsRehash(yield* hasher.hash(secret("pw"))))
      const stronger = yield* Effect.provide(
        PasswordHasher.use((h) => h.hash(secret("pw"))),
        PasswordHasher.layerWith({ params: { algorithm: "scrypt", logN: 5, r: 8, p: 1 } })
      )
      assert.isTrue(hasher.needsRehash(stronger))
      assert.isTrue(hasher.needsRehash("garbage"))
    })
  )

  it.effect("verifies hashes of the other algorithm, so parameters and algorithms can change", () =>
    Effect.gen(function* () {
      const hasher = yield* PasswordHasher
      const scryptHash = yield* Effect.provide(
        PasswordHasher.use((h) => h.hash(secret("migrated"))),
        PasswordHasher.layerWith({ params: { algorithm: "scrypt", logN: 5, r: 8, p: 1 } })
      )
      assert.isTrue(yield* hasher.verify(secret("migrated"), scryptHash))
      assert.isFalse(yield* hasher.verify(secret("other"), scryptHash))
    })
  )
})

describe("PasswordHasher (production parameters)", () => {
  it("are at or above OWASP's recommendations", () => {
    assert.isAtLeast(argon2idDefaults.memoryKiB, 19 * 1024)
    assert.isAtLeast(argon2idDefaults.passes, 2)
    assert.isAtLeast(scryptDefaults.logN, 17)
    assert.isAtLeast(scryptDefaults.r, 8)
    assert.strictEqual(defaultHashParams.algorithm, hasArgon2 ? "argon2id" : "scrypt")
  })

  const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeNanos
      const result = yield* effect
      return { result, ms: Number((yield* Clock.currentTimeNanos) - start) / 1e6 }
    })
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

  layer(PasswordHasher.layer, { excludeTestServices: true })("with the real KDF", (it) => {
    it.effect("hash and verify both scrypt (OWASP) and argon2id hashes, timed", () =>
      Effect.gen(function* () {
        const hasher = yield* PasswordHasher
        const hashed = yield* timed(hasher.hash(secret("correct horse battery staple")))
        const verified = yield* timed(hasher.verify(secret("correct horse battery staple"), hashed.result))
        assert.isTrue(verified.result)
        const scrypt = yield* Effect.provide(
          timed(PasswordHasher.use((h) => h.hash(secret("pw")))),
          PasswordHasher.layerWith({ params: scryptDefaults })
        )
        assert.isTrue(yield* hasher.verify(secret("pw"), scrypt.result))
        yield* Effect.log(
          `${defaultHashParams.algorithm} hash ${hashed.ms.toFixed(0)} ms, verify ${verified.ms.toFixed(0)} ms; ` +
            `scrypt N=2^17 hash ${scrypt.ms.toFixed(0)} ms`
        )
      })
    )

    it.effect("a login for an unknown user costs about what a wrong password costs", () =>
      Effect.gen(function* () {
        const hasher = yield* PasswordHasher
        const stored = yield* hasher.hash(secret("the real password"))
        const wrong: Array<number> = []
        const unknown: Array<number> = []
        for (let i = 0; i < 5; i++) {
          wrong.push((yield* timed(hasher.verify(secret("a wrong password"), stored))).ms)
          unknown.push((yield* timed(hasher.verifyAgainstDummy(secret("a wrong password")))).ms)
        }
        const ratio = median(unknown) / median(wrong)
        yield* Effect.log(
          `median wrong password ${median(wrong).toFixed(0)} ms, unknown user ${median(unknown).toFixed(0)} ms`
        )
        assert.isAbove(ratio, 0.6)
        assert.isBelow(ratio, 1.6)
      })
    )

    it.effect("keeps the event loop free while the KDF runs", () =>
      Effect.gen(function* () {
        const hasher = yield* PasswordHasher
        const ticks = yield* Ref.make(0)
        const ticker = yield* Effect.forkChild(
          Ref.update(ticks, (n) => n + 1).pipe(Effect.repeat(Schedule.spaced("5 millis")))
        )
        const { ms } = yield* timed(hasher.hash(secret("pw")))
        yield* Fiber.interrupt(ticker)
        // A KDF on the event loop would leave the ticker starved for the whole hash.
        assert.isAtLeast(yield* Ref.get(ticks), Math.floor(ms / 5 / 3))
      })
    )
  })
})
