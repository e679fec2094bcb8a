/**
 * Registration, sign-in and profiles. A registration claims the normalised
 * email and registers the user in one transaction, so two registrations of one
 * address can never both succeed. Sign-in with an unknown email spends the same
 * password-hashing time as a wrong password, so timing does not reveal who has
 * an account. The admin role comes from configuration (`ADMIN_EMAILS`) at
 * sign-in, on top of the roles the user holds.
 */
import { ActorRuntime, part } from "@agora/actors"
import { EmailClaim, normaliseEmail, User } from "@agora/domain"
import { PasswordHasher, TokenService } from "@agora/edge"
import { Uuid } from "@agora/eventstore"
import { Config, Context, DateTime, Effect, Layer, Redacted, Schema } from "effect"

/** What the API shows of a user. */
export interface UserView {
  readonly id: string
  readonly email: string
  readonly roles: ReadonlyArray<string>
  readonly createdAt: DateTime.Utc
}

/** The email or password cannot be registered (SPEC: 422). */
export class InvalidRegistration extends Schema.TaggedError<InvalidRegistration>()("InvalidRegistration", {
  field: Schema.Literals(["email", "password"]),
  reason: Schema.String
}) {}

/** Sign-in failed; deliberately says nothing about which part was wrong. */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", {}) {}

export const minimumPasswordLength = 8
const maximumPasswordLength = 1024

export class Users extends Context.Service<
  Users,
  {
    readonly register: (input: {
      readonly email: string
      readonly password: Redacted.Redacted<string>
    }) => Effect.Effect<UserView, InvalidRegistration | EmailClaim.EmailTaken | UnexpectedUserError>
    readonly signIn: (input: {
      readonly email: string
      readonly password: Redacted.Redacted<string>
    }) => Effect.Effect<
      { readonly accessToken: string; readonly expiresIn: number },
      InvalidCredentials | UnexpectedUserError
    >
    readonly profile: (userId: string) => Effect.Effect<UserView, User.UserNotFound | UnexpectedUserError>
  }
>()("@agora/app/Users") {}

/** A failure of the store or runtime, not of the request: the API answers 503. */
export class UnexpectedUserError extends Schema.TaggedError<UnexpectedUserError>()("UnexpectedUserError", {
  cause: Schema.Defect()
}) {}

const view = (state: User.UserState, adminEmails: ReadonlySet<string>): UserView | undefined =>
  state._tag === "Registered"
    ? {
        id: state.userId,
        email: state.email,
        roles: adminEmails.has(state.email) && !state.roles.includes("admin") ? [...state.roles, "admin"] : state.roles,
        createdAt: state.registeredAt
      }
    : undefined

export const make = Effect.gen(function* () {
  const actors = yield* ActorRuntime
  const hasher = yield* PasswordHasher
  const tokens = yield* TokenService
  const adminEmails = new Set(
    (yield* Config.String("ADMIN_EMAILS").pipe(Config.withDefault("")))
      .split(",")
      .map(normaliseEmail)
      .filter((e) => e.length > 0)
  )
  const unexpected = (cause: unknown) => new UnexpectedUserError({ cause })

  const register = Effect.fn("Users.register")(function* (input: {
    readonly email: string
    readonly password: Redacted.Redacted<string>
  }) {
    const password = Redacted.value(input.password)
    if (password.length < minimumPasswordLength) {
      return yield* new InvalidRegistration({
        field: "password",
        reason: `must be at least ${minimumPasswordLength} characters`
      })
    }
    if (password.length > maximumPasswordLength) {
      return yield* new InvalidRegistration({ field: "password", reason: "is too long" })
    }
    const email = normaliseEmail(input.email)
    const userId = Uuid.v7()
    const at = yield* DateTime.now
    const passwordHash = yield* hasher.hash(input.password)
    const [, registered] = yield* actors
      .sendTogether([
        part(EmailClaim.EmailClaim, email, new EmailClaim.ClaimEmail({ email, userId, at })),
        part(User.User, userId, new User.RegisterUser({ userId, email, passwordHash, roles: ["customer"], at }))
      ])
      .pipe(
        Effect.catchTags({
          InvalidEmail: () =>
            Effect.fail(new InvalidRegistration({ field: "email", reason: "is not a valid email address" })),
          AlreadyRegistered: unexpectedFail,
          UserNotFound: unexpectedFail,
          ConcurrencyConflict: unexpectedFail,
          EventStoreError: unexpectedFail
        })
      )
    const user = view(registered.state, adminEmails)
    if (user === undefined) return yield* Effect.fail(unexpected(new Error("registration left no user")))
    return user
  })

  function unexpectedFail(cause: unknown) {
    return Effect.fail(unexpected(cause))
  }

  const userIdOf = (email: string) =>
    actors.state(EmailClaim.EmailClaim, normaliseEmail(email)).pipe(
      Effect.map(({ state }) => (state._tag === "Claimed" ? state.userId : undefined)),
      Effect.mapError(unexpected)
    )

  const signIn = Effect.fn("Users.signIn")(function* (input: {
    readonly email: string
    readonly password: Redacted.Redacted<string>
  }) {
    const userId = yield* userIdOf(input.email)
    if (userId === undefined) {
      yield* hasher.verifyAgainstDummy(input.password)
      return yield* new InvalidCredentials()
    }
    const { state } = yield* actors.state(User.User, userId).pipe(Effect.mapError(unexpected))
    if (state._tag !== "Registered") {
      yield* hasher.verifyAgainstDummy(input.password)
      return yield* new InvalidCredentials()
    }
    if (!(yield* hasher.verify(input.password, state.passwordHash))) return yield* new InvalidCredentials()
    const user = view(state, adminEmails)!
    return yield* tokens
      .issue({ userId: user.id, email: user.email, roles: user.roles })
      .pipe(Effect.mapError(unexpected))
  })

  const profile = Effect.fn("Users.profile")(function* (userId: string) {
    const { state } = yield* actors.state(User.User, userId).pipe(Effect.mapError(unexpected))
    const user = view(state, adminEmails)
    if (user === undefined) return yield* new User.UserNotFound({ userId })
    return user
  })

  return Users.of({ register, signIn, profile })
})

export const layer = Layer.effect(Users, make)
