/**
 * The user decider. A user registers once; roles are a set (sorted, without
 * repeats) so that changing them to what they already are records nothing.
 * Email uniqueness across users is the email claim's job (`EmailClaim`).
 */
import type { Aggregate } from "../Decider.ts"
import { accept, type Decision, ignore, reject } from "../Decision.ts"
import { isValidEmail, normaliseEmail } from "../Email.ts"
import { UserCommand } from "./UserCommands.ts"
import { AlreadyRegistered, InvalidEmail, UserError, UserNotFound } from "./UserErrors.ts"
import { type Role, UserEvent, UserRegistered, UserRolesChanged } from "./UserEvents.ts"
import { initialState, UserState } from "./UserState.ts"

const roleOrder: ReadonlyArray<Role> = ["admin", "customer"]

/** The canonical form of a set of roles. */
export const normaliseRoles = (roles: ReadonlyArray<Role>): ReadonlyArray<Role> =>
  roleOrder.filter((role) => roles.includes(role))

const sameRoles = (a: ReadonlyArray<Role>, b: ReadonlyArray<Role>): boolean =>
  a.length === b.length && a.every((role, i) => b[i] === role)

export const decide = (command: UserCommand, state: UserState): Decision<UserEvent, UserError> => {
  switch (command._tag) {
    case "RegisterUser": {
      if (state._tag === "Registered") return reject(new AlreadyRegistered({ userId: state.userId }))
      const email = normaliseEmail(command.email)
      if (!isValidEmail(email)) return reject(new InvalidEmail({ email: command.email }))
      return accept(
        new UserRegistered({
          userId: command.userId,
          email,
          passwordHash: command.passwordHash,
          roles: normaliseRoles(command.roles),
          at: command.at
        })
      )
    }
    case "ChangeUserRoles": {
      if (state._tag === "Unregistered") return reject(new UserNotFound({ userId: command.userId }))
      const roles = normaliseRoles(command.roles)
      if (sameRoles(roles, state.roles)) return ignore
      return accept(new UserRolesChanged({ userId: state.userId, roles, at: command.at }))
    }
  }
}

export const evolve = (state: UserState, event: UserEvent): UserState => {
  switch (event._tag) {
    case "UserRegistered":
      return {
        _tag: "Registered",
        userId: event.userId,
        email: event.email,
        passwordHash: event.passwordHash,
        roles: event.roles,
        registeredAt: event.at,
        updatedAt: event.at
      }
    case "UserRolesChanged":
      return state._tag === "Registered" ? { ...state, roles: event.roles, updatedAt: event.at } : state
  }
}

/** The user aggregate: streams `user-<userId>`. */
export const User: Aggregate<UserCommand, UserEvent, UserState, UserError> = {
  type: "user",
  initialState,
  decide,
  evolve,
  commandSchema: UserCommand,
  errorSchema: UserError,
  eventSchema: UserEvent,
  stateSchema: UserState,
  stateVersion: 1
}
