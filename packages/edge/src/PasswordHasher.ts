/**
 * Password hashing: a memory-hard KDF from `node:crypto`, stored as a PHC
 * string that names its algorithm and parameters, so the parameters can rise
 * later (`needsRehash`) without invalidating stored hashes.
 *
 * Argon2id (RFC 9106, OWASP's first choice) when the runtime has
 * `crypto.argon2` (Node ≥ 24.7), scrypt otherwise; a hash of either kind
 * verifies wherever its algorithm exists. The KDF runs on libuv's thread pool, never on the
 * event loop, and at most a few at once: each holds tens of MiB and a thread
 * that fs and dns share. A login for an unknown user runs the same KDF against
 * a dummy hash (`verifyAgainstDummy`), so timing does not reveal which emails
 * exist.
 */
import * as crypto from "node:crypto"
import { availableParallelism } from "node:os"
import { Context, Effect, Layer, Redacted, Semaphore } from "effect"

/** Argon2id cost: memory in KiB, passes over it, lanes. */
export interface Argon2idParams {
  readonly algorithm: "argon2id"
  readonly memoryKiB: number
  readonly passes: number
  readonly parallelism: number
}

/** scrypt cost: N = 2^logN, block size r, parallelism p. */
export interface ScryptParams {
  readonly algorithm: "scrypt"
  readonly logN: number
  readonly r: number
  readonly p: number
}

export type HashParams = Argon2idParams | ScryptParams

/** Whether this Node has `crypto.argon2` (added in Node 24.7; the engines field allows 24.0). */
export const hasArgon2: boolean = typeof (crypto as { argon2?: unknown }).argon2 === "function"

/**
 * Production Argon2id cost, above OWASP's floor (m = 19 MiB, t = 2, p = 1):
 * RFC 9106's memory-constrained choice (64 MiB, 3 passes) with OWASP's one
 * lane, since four lanes run barely faster here (128 vs 146 ms). About 150 ms
 * per hash on the 2-core CI box.
 */
export const argon2idDefaults: Argon2idParams = { algorithm: "argon2id", memoryKiB: 65_536, passes: 3, parallelism: 1 }

/** Production scrypt cost: OWASP's recommendation (N = 2^17, r = 8, p = 1, 128 MiB). About 300 ms per hash. */
export const scryptDefaults: ScryptParams = { algorithm: "scrypt", logN: 17, r: 8, p: 1 }

/** The production parameters for this runtime. */
export const defaultHashParams: HashParams = hasArgon2 ? argon2idDefaults : scryptDefaults

/** Deliberately weak parameters, for tests only: a hash costs well under a millisecond. */
export const testHashParams: HashParams = hasArgon2
  ? { algorithm: "argon2id", memoryKiB: 64, passes: 1, parallelism: 1 }
  : { algorithm: "scrypt", logN: 4, r: 8, p: 1 }

const saltBytes = 16
const keyBytes = 32

// Bounds on what a stored hash may ask for: a corrupt or planted row must not
// make one verification allocate gigabytes.
const limits = { memoryKiB: 1_048_576, passes: 16, parallelism: 16, logN: 20, r: 32, p: 16 }

interface Decoded {
  readonly params: HashParams
  readonly salt: Buffer
  readonly key: Buffer
}

const b64 = (bytes: Buffer) => bytes.toString("base64").replace(/=+$/, "")

const encode = (params: HashParams, salt: Buffer, key: Buffer): string =>
  params.algorithm === "argon2id"
    ? `$argon2id$v=19$m=${params.memoryKiB},t=${params.passes},p=${params.parallelism}$${b64(salt)}$${b64(key)}`
    : `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`

const argon2Format =
  /^\$argon2id\$v=19\$m=(\d{1,8}),t=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/
const scryptFormat = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/

/** Parses a stored hash; `undefined` when it is not one this module wrote or asks for too much. */
export const decodePasswordHash = (encoded: string): Decoded | undefined => {
  const argon = argon2Format.exec(encoded)
  if (argon !== null) {
    const [, m, t, p, salt, key] = argon
    const params: Argon2idParams = {
      algorithm: "argon2id",
      memoryKiB: Number(m),
      passes: Number(t),
      parallelism: Number(p)
    }
    if (
      params.parallelism < 1 ||
      params.parallelism > limits.parallelism ||
      params.passes < 1 ||
      params.passes > limits.passes ||
      params.memoryKiB < 8 * params.parallelism ||
      params.memoryKiB > limits.memoryKiB
    )
      return undefined
    return { params, salt: Buffer.from(salt!, "base64"), key: Buffer.from(key!, "base64") }
  }
  const scrypt = scryptFormat.exec(encoded)
  if (scrypt !== null) {
    const [, ln, r, p, salt, key] = scrypt
    const params: ScryptParams = { algorithm: "scrypt", logN: Number(ln), r: Number(r), p: Number(p) }
    if (params.logN < 1 || params.logN > limits.logN || params.r < 1 || params.r > limits.r) return undefined
    if (params.p < 1 || params.p > limits.p) return undefined
    return { params, salt: Buffer.from(salt!, "base64"), key: Buffer.from(key!, "base64") }
  }
  return undefined
}

// NIST SP 800-63B: the same password typed on different keyboards or
// platforms may arrive in different Unicode forms; hash one canonical form.
const passwordBytes = (password: Redacted.Redacted<string>) => Buffer.from(Redacted.value(password).normalize("NFKC"))

/** Runs the KDF on libuv's thread pool. Its failures are defects: parameters are validated before. */
const derive = (params: HashParams, password: Buffer, salt: Buffer, length: number) =>
  Effect.callback<Buffer>((resume) => {
    const done = (error: Error | null, key: Buffer) => resume(error === null ? Effect.succeed(key) : Effect.die(error))
    if (params.algorithm === "argon2id") {
      crypto.argon2(
        "argon2id",
        {
          message: password,
          nonce: salt,
          parallelism: params.parallelism,
          tagLength: length,
          memory: params.memoryKiB,
          passes: params.passes
        },
        done
      )
    } else {
      const N = 2 ** params.logN
      // Node's default maxmem (32 MiB) is below OWASP's scrypt cost (128 · N · r = 128 MiB).
      crypto.scrypt(password, salt, length, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r }, done)
    }
  })

const sameParams = (a: HashParams, b: HashParams) =>
  a.algorithm === "argon2id" && b.algorithm === "argon2id"
    ? a.memoryKiB === b.memoryKiB && a.passes === b.passes && a.parallelism === b.parallelism
    : a.algorithm === "scrypt" && b.algorithm === "scrypt"
      ? a.logN === b.logN && a.r === b.r && a.p === b.p
      : false

export interface PasswordHasherOptions {
  /** KDF parameters for new hashes (default: `defaultHashParams`). */
  readonly params?: HashParams
  /** KDF runs at once (default: the cores, at most 3, so one libuv thread stays free for fs and dns). */
  readonly maxConcurrent?: number
}

/** Builds a hasher; computes the dummy hash for `verifyAgainstDummy` once, with the same parameters. */
const make = (options: PasswordHasherOptions = {}) =>
  Effect.gen(function* () {
    const params = options.params ?? defaultHashParams
    if (params.algorithm === "argon2id" && !hasArgon2) {
      return yield* Effect.die(new Error("argon2id needs crypto.argon2 (Node.js ≥ 24.7)"))
    }
    const permits = yield* Semaphore.make(options.maxConcurrent ?? Math.max(1, Math.min(3, availableParallelism())))
    const run = (p: HashParams, password: Buffer, salt: Buffer, length: number) =>
      Semaphore.withPermits(permits, 1)(derive(p, password, salt, length))

    const hashWith = (password: Redacted.Redacted<string>) =>
      Effect.gen(function* () {
        const salt = crypto.randomBytes(saltBytes)
        const key = yield* run(params, passwordBytes(password), salt, keyBytes)
        return encode(params, salt, key)
      })

    const check = (password: Redacted.Redacted<string>, encoded: string) =>
      Effect.gen(function* () {
        const decoded = decodePasswordHash(encoded)
        if (decoded === undefined || decoded.key.length < 16) {
          yield* Effect.logWarning("PasswordHasher: a stored password hash is malformed; the login is refused")
          return false
        }
        if (decoded.params.algorithm === "argon2id" && !hasArgon2) {
          return yield* Effect.die(
            new Error("an argon2id hash cannot be verified without crypto.argon2 (Node.js ≥ 24.7)")
          )
        }
        const key = yield* run(decoded.params, passwordBytes(password), decoded.salt, decoded.key.length)
        return crypto.timingSafeEqual(key, decoded.key)
      })

    const dummy = yield* hashWith(Redacted.make(crypto.randomBytes(32).toString("base64")))

    return PasswordHasher.of({
      hash: Effect.fn("PasswordHasher.hash")(function* (password: Redacted.Redacted<string>) {
        return yield* hashWith(password)
      }),
      verify: Effect.fn("PasswordHasher.verify")(function* (password: Redacted.Redacted<string>, encoded: string) {
        return yield* check(password, encoded)
      }),
      verifyAgainstDummy: Effect.fn("PasswordHasher.verifyAgainstDummy")(function* (
        password: Redacted.Redacted<string>
      ) {
        yield* check(password, dummy)
        return false as const
      }),
      needsRehash: (encoded) => {
        const decoded = decodePasswordHash(encoded)
        return decoded === undefined || !sameParams(decoded.params, params)
      }
    })
  })

/** Hashes and verifies passwords. */
export class PasswordHasher extends Context.Service<
  PasswordHasher,
  {
    /** A new salted hash of the password, as a self-describing PHC string. */
    readonly hash: (password: Redacted.Redacted<string>) => Effect.Effect<string>
    /** Whether the password matches the stored hash (compared in constant time); false for a malformed hash. */
    readonly verify: (password: Redacted.Redacted<string>, encoded: string) => Effect.Effect<boolean>
    /** Costs what `verify` costs and always answers false: for a login whose user does not exist. */
    readonly verifyAgainstDummy: (password: Redacted.Redacted<string>) => Effect.Effect<false>
    /** Whether a stored hash was made with other parameters than today's (rehash it after a successful login). */
    readonly needsRehash: (encoded: string) => boolean
  }
>()("@agora/edge/PasswordHasher") {
  /** Production parameters (`defaultHashParams`). */
  static readonly layer: Layer.Layer<PasswordHasher> = Layer.effect(PasswordHasher, make())

  /** TESTS ONLY: cheap parameters, so suites that register users stay fast. Never use in a server. */
  static readonly layerTest: Layer.Layer<PasswordHasher> = Layer.effect(
    PasswordHasher,
    make({ params: testHashParams })
  )

  /** Explicit parameters and concurrency. */
  static readonly layerWith = (options: PasswordHasherOptions): Layer.Layer<PasswordHasher> =>
    Layer.effect(PasswordHasher, make(options))
}
