/**
 * Bearer-token authentication for the authenticated groups: a missing,
 * expired, forged or wrongly-signed token is a 401 problem; a valid one
 * provides `CurrentUser`.
 */
import { TokenService } from "@agora/edge"
import { Effect, Layer, Redacted } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import { CurrentUser } from "./CurrentUser.ts"
import { Unauthenticated } from "./Problems.ts"

export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: CurrentUser }>()(
  "@agora/api/Authentication",
  { security: { bearer: HttpApiSecurity.bearer }, error: Unauthenticated }
) {}

export const layer = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const tokens = yield* TokenService
    return Authentication.of({
      bearer: (handler, { credential }) =>
        Effect.flatMap(
          tokens.verify(Redacted.value(credential)).pipe(
            Effect.mapError(
              () =>
                new Unauthenticated({
                  detail: "The bearer token is missing, expired or invalid",
                  code: "invalid_token"
                })
            )
          ),
          (claims) =>
            Effect.provideService(handler, CurrentUser, {
              userId: claims.userId,
              email: claims.email,
              roles: claims.roles
            })
        )
    })
  })
)
