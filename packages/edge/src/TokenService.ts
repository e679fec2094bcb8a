/**
 * Access tokens: JWTs signed with HS256 through `jose`, carrying the user's id
 * (`sub`), email and roles.
 *
 * Verification trusts nothing in the token's header: the algorithm is pinned
 * (so `none` and algorithm-confusion tokens fail), and `exp`, `iss`, `aud` and
 * `typ` must be present and match. Time comes from `Clock`, so tests move it.
 * The secret is at least 32 bytes (RFC 7518 §3.2: an HS256 key as long as the
 * hash output).
 *
 * Verifying a token through WebCrypto costs about 40 µs, as much as the rest
 * of a cached read; tokens already verified are remembered (bounded, and
 * never past their own `exp`) so that a client's later requests skip it.
 */
import { randomUUID, webcrypto } from "node:crypto"
import { Clock, Config, ConfigProvider, Context, Duration, Effect, Layer, Redacted, Schema } from "effect"
import { type JWTPayload, jwtVerify, SignJWT } from "jose"

/** What a valid token says about its bearer. */
export class Claims extends Schema.Class<Claims>("@agora/edge/Claims")({
  userId: Schema.String,
  email: Schema.String,
  roles: Schema.Array(Schema.String),
  /** Expiry, in seconds since the epoch. */
  expiresAt: Schema.Number,
  tokenId: Schema.String
}) {}

/** A freshly signed token; `expiresIn` is in seconds (OAuth2 `expires_in`). */
export interface IssuedToken {
  readonly accessToken: string
  readonly expiresIn: number
}

/** The token is missing a part, forged, expired, or not meant for this API; `reason` is for logs, not clients. */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  reason: Schema.Literals(["malformed", "bad_signature", "algorithm_not_allowed", "expired", "bad_claims"])
}) {}

export interface TokenSettings {
  readonly secret: Redacted.Redacted<string>
  readonly issuer: string
  readonly audience: string
  readonly ttl: Duration.Duration
  /** Verified tokens remembered (default 10,000; 0 turns the cache off). */
  readonly cacheSize?: number
}

const algorithm = "HS256"
const tokenType = "JWT"
const minSecretBytes = 32
// A bearer header far longer than any token we issue is garbage; do not parse it.
const maxTokenLength = 8192

const Payload = Schema.Struct({
  sub: Schema.NonEmptyString,
  email: Schema.String,
  roles: Schema.Array(Schema.String),
  exp: Schema.Number,
  jti: Schema.String
})
const decodePayload = Schema.decodeUnknownEffect(Payload)

const reasonOf = (error: unknown): InvalidToken["reason"] => {
  switch ((error as { code?: unknown }).code) {
    case "ERR_JWT_EXPIRED":
      return "expired"
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "bad_signature"
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return "algorithm_not_allowed"
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return "bad_claims"
    default:
      return "malformed"
  }
}

/** Builds the service from settings; dies when the secret is shorter than 32 bytes or the TTL under a second. */
const make = (settings: TokenSettings) =>
  Effect.gen(function* () {
    const secret = new TextEncoder().encode(Redacted.value(settings.secret))
    if (secret.byteLength < minSecretBytes) {
      return yield* Effect.die(new Error(`JWT_SECRET must be at least ${minSecretBytes} bytes`))
    }
    const ttlSeconds = Math.floor(Duration.toSeconds(settings.ttl))
    if (!(ttlSeconds >= 1)) return yield* Effect.die(new Error("JWT_TTL must be at least one second"))
    // Imported once: jose would otherwise import the raw secret on every call.
    const key = yield* Effect.promise(() =>
      webcrypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"])
    )

    const issue = Effect.fn("TokenService.issue")(function* (subject: {
      readonly userId: string
      readonly email: string
      readonly roles: ReadonlyArray<string>
    }) {
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const payload: JWTPayload = {
        sub: subject.userId,
        email: subject.email,
        roles: [...subject.roles],
        iss: settings.issuer,
        aud: settings.audience,
        iat: now,
        exp: now + ttlSeconds,
        jti: randomUUID()
      }
      const accessToken = yield* Effect.promise(() =>
        new SignJWT(payload).setProtectedHeader({ alg: algorithm, typ: tokenType }).sign(key)
      )
      return { accessToken, expiresIn: ttlSeconds } satisfies IssuedToken
    })

    const cacheSize = settings.cacheSize ?? 10_000
    const verified = new Map<string, Claims>()

    const malformed = new InvalidToken({ reason: "malformed" })

    // Every authenticated request asks twice (the edge's caller, the route's authentication): a token
    // verified before answers from the cache, on a path with no span and no promise.
    const verify = (token: string): Effect.Effect<Claims, InvalidToken> => {
      if (token.length === 0 || token.length > maxTokenLength) return Effect.fail(malformed)
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const known = verified.get(token)
        if (known !== undefined) {
          // The same check jose makes: expired once now ≥ exp.
          if (now / 1000 < known.expiresAt) return Effect.succeed(known)
          verified.delete(token)
        }
        return verifyAndCache(token, now)
      })
    }

    const verifyAndCache = Effect.fn("TokenService.verify")(function* (token: string, now: number) {
      const { payload } = yield* Effect.tryPromise({
        try: () =>
          jwtVerify(token, key, {
            algorithms: [algorithm],
            issuer: settings.issuer,
            audience: settings.audience,
            typ: tokenType,
            currentDate: new Date(now),
            requiredClaims: ["exp", "iat", "sub", "jti"]
          }),
        catch: (error) => new InvalidToken({ reason: reasonOf(error) })
      })
      const claims = yield* decodePayload(payload).pipe(
        Effect.mapError(() => new InvalidToken({ reason: "bad_claims" }))
      )
      const result = new Claims({
        userId: claims.sub,
        email: claims.email,
        roles: claims.roles,
        expiresAt: claims.exp,
        tokenId: claims.jti
      })
      if (cacheSize > 0) {
        // Oldest first out: Map iterates in insertion order.
        if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!)
        verified.set(token, result)
      }
      return result
    })

    return TokenService.of({ issue, verify })
  })

/** `JWT_SECRET` (required, ≥ 32 bytes), `JWT_ISSUER` ("agora"), `JWT_AUDIENCE` ("agora-api"), `JWT_TTL` ("1 hour"). */
export const tokenSettingsFromConfig: Config.Config<TokenSettings> = Config.all({
  secret: Config.Redacted("JWT_SECRET").pipe(
    Config.mapEffect((secret) =>
      new TextEncoder().encode(Redacted.value(secret)).byteLength >= minSecretBytes
        ? Effect.succeed(secret)
        : Effect.fail(
            new Config.ConfigError(
              new ConfigProvider.SourceError({ message: `JWT_SECRET must be at least ${minSecretBytes} bytes` })
            )
          )
    )
  ),
  issuer: Config.String("JWT_ISSUER").pipe(Config.withDefault("agora")),
  audience: Config.String("JWT_AUDIENCE").pipe(Config.withDefault("agora-api")),
  ttl: Config.Duration("JWT_TTL").pipe(Config.withDefault(Duration.hours(1)))
})

/** Issues and verifies access tokens. */
export class TokenService extends Context.Service<
  TokenService,
  {
    /** Signs a token for the user, valid for the configured TTL from now. */
    readonly issue: (subject: {
      readonly userId: string
      readonly email: string
      readonly roles: ReadonlyArray<string>
    }) => Effect.Effect<IssuedToken>
    /** The claims of a token this service issued and that has not expired. */
    readonly verify: (token: string) => Effect.Effect<Claims, InvalidToken>
  }
>()("@agora/edge/TokenService") {
  /** From config (see `tokenSettingsFromConfig`). */
  static readonly layer: Layer.Layer<TokenService, Config.ConfigError> = Layer.effect(
    TokenService,
    Effect.flatMap(tokenSettingsFromConfig, make)
  )

  /** Explicit settings. */
  static readonly layerWith = (settings: TokenSettings): Layer.Layer<TokenService> =>
    Layer.effect(TokenService, make(settings))

  /** For tests: the given secret (≥ 32 bytes) with the default issuer, audience and TTL. */
  static readonly layerTest = (secret: string): Layer.Layer<TokenService> =>
    TokenService.layerWith({
      secret: Redacted.make(secret),
      issuer: "agora",
      audience: "agora-api",
      ttl: Duration.hours(1)
    })
}
