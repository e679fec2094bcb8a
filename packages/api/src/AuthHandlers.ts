/** Auth and profile handlers: translate the app's outcomes into the contract's answers. */
import { Users } from "@agora/app"
import { DateTime, Effect, Redacted } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "./Api.ts"
import { CurrentUser } from "./CurrentUser.ts"
import { Conflict, NotFound, Unauthenticated, Unavailable, Unprocessable } from "./Problems.ts"

const unavailable = (error: { readonly cause: unknown }) =>
  Effect.andThen(
    Effect.logError("A dependency failed", error.cause),
    Effect.fail(new Unavailable({ detail: "The service cannot complete this request now; nothing was changed" }))
  )

export const AuthHandlers = HttpApiBuilder.group(Api, "auth", (handlers) =>
  Effect.gen(function* () {
    const users = yield* Users.Users
    return handlers
      .handle("register", ({ payload }) =>
        users.register({ email: payload.email, password: Redacted.make(payload.password) }).pipe(
          Effect.map((user) => ({ id: user.id, email: user.email, created_at: DateTime.formatIso(user.createdAt) })),
          Effect.catchTags({
            EmailTaken: () =>
              Effect.fail(new Conflict({ detail: "An account with this email already exists", code: "email_taken" })),
            InvalidRegistration: (e) =>
              Effect.fail(
                new Unprocessable({
                  detail: `The ${e.field} ${e.reason}`,
                  code: "validation_failed",
                  errors: [{ path: ["payload", e.field], message: e.reason }]
                })
              ),
            UnexpectedUserError: unavailable
          })
        )
      )
      .handle("token", ({ payload }) =>
        users.signIn({ email: payload.username, password: Redacted.make(payload.password) }).pipe(
          Effect.map((token) => ({
            access_token: token.accessToken,
            token_type: "bearer" as const,
            expires_in: token.expiresIn
          })),
          Effect.catchTags({
            InvalidCredentials: () =>
              Effect.fail(new Unauthenticated({ detail: "Wrong email or password", code: "invalid_credentials" })),
            UnexpectedUserError: unavailable
          })
        )
      )
  })
)

export const ProfileHandlers = HttpApiBuilder.group(Api, "profile", (handlers) =>
  Effect.gen(function* () {
    const users = yield* Users.Users
    return handlers.handle("me", () =>
      Effect.gen(function* () {
        const caller = yield* CurrentUser
        const user = yield* users.profile(caller.userId).pipe(
          Effect.catchTags({
            UserNotFound: () => Effect.fail(new NotFound({ detail: "This user no longer exists" })),
            UnexpectedUserError: unavailable
          })
        )
        // Roles come from the token: the admin role is granted by configuration at sign-in.
        return { id: user.id, email: user.email, roles: caller.roles, created_at: DateTime.formatIso(user.createdAt) }
      })
    )
  })
)

export { unavailable }
