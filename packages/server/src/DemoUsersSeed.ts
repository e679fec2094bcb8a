/**
 * The demo users, each with a payment account and a starting balance, so the
 * shop can be tried without registering or topping up: `alice@demo.agora`
 * (100,000.00) and `bob@demo.agora` (1,000.00, too little for the dearer
 * parts: an order of them is cancelled `insufficient_funds`). Their password
 * is `DEMO_PASSWORD` (the embedded dev start sets a default); without one
 * they are not seeded.
 *
 * Seeding again changes nothing: a claimed email is looked up, not registered
 * again, an open account stays as it is, and the starting top-up carries an
 * id derived from the user, so the event store records it once.
 */
import { ActorRuntime } from "@agora/actors"
import { Accounts, Users } from "@agora/app"
import { EmailClaim, Money, normaliseEmail } from "@agora/domain"
import { Uuid } from "@agora/eventstore"
import { Config, Effect, Layer, Option, type Redacted } from "effect"

/** Email and starting balance (minor units) of each demo user. */
export const demoUsers: ReadonlyArray<{ readonly email: string; readonly startingBalance: Money.Money }> = [
  { email: "alice@demo.agora", startingBalance: Money.make(100_000_00) },
  { email: "bob@demo.agora", startingBalance: Money.make(1_000_00) }
]

/** The id of a demo user's starting top-up: the same on every run. */
export const startingTopUpId = (email: string): string =>
  Uuid.fromName(`demo-seed/${normaliseEmail(email)}/starting-balance`)

const seedUser = (email: string, startingBalance: Money.Money, password: Redacted.Redacted<string>) =>
  Effect.gen(function* () {
    const actors = yield* ActorRuntime
    const users = yield* Users.Users
    const accounts = yield* Accounts.Accounts
    const claimant = actors
      .state(EmailClaim.EmailClaim, normaliseEmail(email))
      .pipe(Effect.map(({ state }) => (state._tag === "Claimed" ? state.userId : undefined)))
    // Looked up first: registering hashes the password, which a second run need not spend time on.
    const userId =
      (yield* claimant) ??
      (yield* users.register({ email, password }).pipe(
        Effect.map((user): string | undefined => user.id),
        Effect.tap(() => Effect.logInfo(`Demo user ${email} registered`)),
        // Registered by someone else meanwhile: theirs is the user.
        Effect.catchTag("EmailTaken", () => claimant),
        Effect.catchTag("InvalidRegistration", (e) =>
          Effect.as(Effect.logError(`DEMO_PASSWORD rejected: ${e.field} ${e.reason}; ${email} not seeded`), undefined)
        )
      ))
    if (userId === undefined) return
    yield* accounts.open(userId).pipe(Effect.catchTag("AccountAlreadyOpen", () => Effect.void))
    yield* accounts.topUp(userId, startingBalance, startingTopUpId(email))
  })

/** Seeds the demo users, when `DEMO_PASSWORD` is set. */
export const seed = Effect.gen(function* () {
  const password = yield* Config.option(Config.Redacted("DEMO_PASSWORD"))
  if (Option.isNone(password)) {
    return yield* Effect.logInfo("DEMO_PASSWORD is not set: no demo users seeded")
  }
  for (const { email, startingBalance } of demoUsers) {
    yield* seedUser(email, startingBalance, password.value)
  }
  yield* Effect.logInfo(`Demo users: ${demoUsers.map((u) => u.email).join(", ")} in place`)
})

/** Seeds the demo users at start when `SEED_DEMO_USERS=true` (the embedded dev start sets it). */
export const layer = Layer.effectDiscard(
  Effect.gen(function* () {
    const enabled = yield* Config.Boolean("SEED_DEMO_USERS").pipe(Config.withDefault(false))
    if (enabled) yield* seed
  })
)
