/**
 * The admin check for admin groups: a caller without the `admin` role gets a
 * 403 problem. Runs inside `Authentication` (it needs `CurrentUser`) and
 * around request decoding, so a non-admin learns nothing about the input.
 */
import { Effect, Layer } from "effect"
import { HttpApiMiddleware } from "effect/http-api"
import { CurrentUser, isAdmin } from "./CurrentUser.ts"
import { Forbidden } from "./Problems.ts"

export class RequireAdmin extends HttpApiMiddleware.Service<RequireAdmin, { requires: CurrentUser }>()(
  "@agora/api/RequireAdmin",
  { error: Forbidden }
) {}

export const layer = Layer.succeed(
  RequireAdmin,
  RequireAdmin.of((handler) =>
    Effect.gen(function* () {
      if (!isAdmin(yield* CurrentUser)) {
        return yield* new Forbidden({ detail: "This route is for administrators", code: "admin_only" })
      }
      return yield* handler
    })
  )
)
