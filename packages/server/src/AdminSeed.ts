/**
 * The admin from configuration (`ADMIN_EMAIL` / `ADMIN_PASSWORD`) exists after
 * start: registered on first start, left alone afterwards. Whether it has the
 * admin role is decided by `ADMIN_EMAILS` at sign-in.
 */
import { Users } from "@agora/app"
import { Config, Effect, Layer, Option } from "effect"

export const layer = Layer.effectDiscard(
  Effect.gen(function* () {
    const email = yield* Config.option(Config.String("ADMIN_EMAIL"))
    const password = yield* Config.option(Config.Redacted("ADMIN_PASSWORD"))
    if (Option.isNone(email) || Option.isNone(password)) return
    const users = yield* Users.Users
    yield* users.register({ email: email.value, password: password.value }).pipe(
      Effect.tap(() => Effect.logInfo(`Admin ${email.value} registered`)),
      Effect.catchTag("EmailTaken", () => Effect.void),
      Effect.catchTag("InvalidRegistration", (e) =>
        Effect.logError(`ADMIN_EMAIL/ADMIN_PASSWORD rejected: ${e.field} ${e.reason}`)
      )
    )
  })
)
