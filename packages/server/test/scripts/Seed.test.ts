/**
 * `pnpm seed` (scripts/seed.ts) as a child process on a test database, run
 * twice: the first run writes the admin, the demo catalog and the demo users
 * with their accounts; the second writes nothing at all.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { ActorRuntime, InProcessActorRuntime } from "@agora/actors"
import { EmailClaim, PaymentAccount, User } from "@agora/domain"
import { PasswordHasher } from "@agora/edge"
import { EventStore, PgEventStore } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { demoUsers } from "../../src/DemoUsersSeed.ts"

const seedTs = fileURLToPath(new URL("../../../../scripts/seed.ts", import.meta.url))
const demoPassword = "demo-seed-test-password"

/** Runs the seed script on `database`; its exit code and output. */
const runSeed = (database: string) =>
  Effect.callback<{ readonly code: number | null; readonly output: string }>((resume) => {
    const child = spawn(process.execPath, [seedTs], {
      env: {
        ...process.env,
        DATABASE_URL: database,
        JWT_SECRET: "seed-test-secret-seed-test-secret-seed!",
        ADMIN_EMAIL: "admin@example.com",
        ADMIN_PASSWORD: "admin-password-123",
        DEMO_PASSWORD: demoPassword
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on("exit", (code) => resume(Effect.succeed({ code, output })))
  })

/** What the event store on `database` holds: its head, and each demo user's id, password hash and balance. */
const readBack = (database: string) =>
  Effect.gen(function* () {
    const head = yield* (yield* EventStore).headPosition
    const actors = yield* ActorRuntime
    const users = yield* Effect.forEach(demoUsers, ({ email }) =>
      Effect.gen(function* () {
        const claim = (yield* actors.state(EmailClaim.EmailClaim, email)).state
        assert.strictEqual(claim._tag, "Claimed", email)
        const userId = claim._tag === "Claimed" ? claim.userId : ""
        const user = (yield* actors.state(User.User, userId)).state
        const account = yield* actors.state(PaymentAccount.PaymentAccount, userId)
        return {
          userId,
          passwordHash: user._tag === "Registered" ? user.passwordHash : "",
          balance: account.state._tag === "Account" ? account.state.balance : undefined,
          accountVersion: account.version
        }
      })
    )
    return { head, users }
  }).pipe(
    Effect.provide(
      InProcessActorRuntime.layer().pipe(
        Layer.provideMerge(PgEventStore.layer()),
        Layer.provide(PgClient.layer({ url: Redacted.make(database) }))
      )
    )
  )

describe("pnpm seed", () => {
  it.live(
    "seeds the admin, the catalog and the demo users with funded accounts; a second run changes nothing",
    () =>
      Effect.gen(function* () {
        const database = yield* TestDatabase.create("scripts_seed")
        const first = yield* runSeed(database)
        assert.strictEqual(first.code, 0, first.output)
        assert.include(first.output, "Demo user alice@demo.agora registered")
        const afterFirst = yield* readBack(database)
        // 10 products, the admin (claim + user), and per demo user: claim, user, account opened, topped up.
        assert.strictEqual(afterFirst.head, 10 + 2 + demoUsers.length * 4)
        for (const [i, { startingBalance }] of demoUsers.entries()) {
          const user = afterFirst.users[i]!
          assert.strictEqual(user.balance, startingBalance)
          assert.strictEqual(user.accountVersion, 2)
          const hasher = yield* PasswordHasher
          assert.isTrue(yield* hasher.verify(Redacted.make(demoPassword), user.passwordHash))
        }

        const second = yield* runSeed(database)
        assert.strictEqual(second.code, 0, second.output)
        assert.notInclude(second.output, "registered")
        const afterSecond = yield* readBack(database)
        assert.deepStrictEqual(afterSecond, afterFirst)
      }).pipe(Effect.scoped, Effect.provide(PasswordHasher.layerTest)),
    120_000
  )
})
