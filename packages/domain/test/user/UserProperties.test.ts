import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { isValidEmail, normaliseEmail } from "../../src/Email.ts"
import {
  ChangeUserRoles,
  RegisterUser,
  Role,
  User,
  type UserCommand,
  type UserEvent,
  UserRegistered,
  UserRolesChanged,
  type UserState
} from "../../src/user/index.ts"
import { assertJsonRoundTrip, at } from "../Fixtures.ts"
import { arbitraryAt, checkAggregate, count, sequences } from "../Properties.ts"

const userId = "user-1"
const roles = fc.array(fc.constantFrom(...Role.literals), { maxLength: 3 })
const email = fc.constantFrom("ann@example.com", " Ann@Example.COM ", "ANN@EXAMPLE.COM\t", "not-an-email", "a@b")

const register = fc
  .record({ email, roles, at: arbitraryAt })
  .map((c) => new RegisterUser({ userId, passwordHash: "hash", ...c }))

const command: fc.Arbitrary<UserCommand> = fc.oneof(
  { weight: 1, arbitrary: register },
  { weight: 2, arbitrary: fc.record({ roles, at: arbitraryAt }).map((c) => new ChangeUserRoles({ userId, ...c })) }
)

const invariant = (state: UserState, events: ReadonlyArray<UserEvent>) => {
  if (state._tag !== "Registered") return assert.fail("events without a registration")
  assert.strictEqual(events[0]?._tag, "UserRegistered")
  assert.strictEqual(
    count(events, (e) => e._tag === "UserRegistered"),
    1
  )
  assert.strictEqual(state.email, normaliseEmail(state.email))
  assert.isTrue(isValidEmail(state.email))
  assert.deepStrictEqual(state.roles, [...new Set(state.roles)].sort())
}

describe("User properties", () => {
  it("registers once with a normalised email and keeps roles a set, over any command sequence", () => {
    checkAggregate(
      User,
      fc.tuple(register, sequences(command, 20)).map(([first, rest]) => [first, ...rest]),
      { invariant, idempotent: (c) => c._tag === "ChangeUserRoles" }
    )
  })

  it("round-trips every event and every state through JSON", () => {
    const events = [
      new UserRegistered({ userId, email: "ann@example.com", passwordHash: "h", roles: ["customer"], at: at(0) }),
      new UserRolesChanged({ userId, roles: ["admin", "customer"], at: at(1) })
    ]
    let state = User.initialState
    assertJsonRoundTrip(User.stateSchema, state)
    for (const event of events) {
      assertJsonRoundTrip(User.eventSchema, event)
      state = User.evolve(state, event)
      assertJsonRoundTrip(User.stateSchema, state)
    }
  })
})
