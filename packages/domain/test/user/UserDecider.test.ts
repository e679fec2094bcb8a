import { describe, it } from "@effect/vitest"
import {
  AlreadyRegistered,
  ChangeUserRoles,
  InvalidEmail,
  RegisterUser,
  User,
  UserNotFound,
  UserRegistered,
  UserRolesChanged
} from "../../src/user/index.ts"
import { DeciderSpec } from "../DeciderSpec.ts"
import { at } from "../Fixtures.ts"

const userId = "0190b1a0-0000-7000-8000-000000000001"
const register = new RegisterUser({
  userId,
  email: "  Ann@Example.COM ",
  passwordHash: "$argon2id$hash",
  roles: ["customer"],
  at: at(0)
})
const registered = new UserRegistered({
  userId,
  email: "ann@example.com",
  passwordHash: "$argon2id$hash",
  roles: ["customer"],
  at: at(0)
})
const spec = DeciderSpec.for(User)

describe("User", () => {
  describe("when unregistered", () => {
    it("registers with the email normalised", () => {
      spec.given([]).when(register).then([registered])
    })

    it("stores roles as a sorted set", () => {
      spec
        .when(new RegisterUser({ ...register, roles: ["customer", "admin", "customer"] }))
        .then([new UserRegistered({ ...registered, roles: ["admin", "customer"] })])
    })

    it("refuses an invalid email", () => {
      for (const email of ["ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@@example.com"]) {
        spec.when(new RegisterUser({ ...register, email })).thenFails(new InvalidEmail({ email }))
      }
    })

    it("cannot change roles", () => {
      spec.when(new ChangeUserRoles({ userId, roles: ["admin"], at: at(1) })).thenFails(new UserNotFound({ userId }))
    })
  })

  describe("when registered", () => {
    it("refuses a second registration", () => {
      spec.given([registered]).when(register).thenFails(new AlreadyRegistered({ userId }))
    })

    it("changes roles", () => {
      spec
        .given([registered])
        .when(new ChangeUserRoles({ userId, roles: ["admin", "customer"], at: at(1) }))
        .then([new UserRolesChanged({ userId, roles: ["admin", "customer"], at: at(1) })])
    })

    it("records nothing when the roles are already those", () => {
      spec
        .given([registered])
        .when(new ChangeUserRoles({ userId, roles: ["customer", "customer"], at: at(1) }))
        .thenNothing()
    })
  })
})
