/**
 * What can be asked of a user. The email may arrive in any case and with
 * spaces; the decider normalises it.
 */
import { Schema } from "effect"
import { Role } from "./UserEvents.ts"

export class RegisterUser extends Schema.TaggedClass<RegisterUser>()("RegisterUser", {
  userId: Schema.String,
  email: Schema.String,
  passwordHash: Schema.String,
  roles: Schema.Array(Role),
  at: Schema.DateTimeUtcFromString
}) {}

export class ChangeUserRoles extends Schema.TaggedClass<ChangeUserRoles>()("ChangeUserRoles", {
  userId: Schema.String,
  roles: Schema.Array(Role),
  at: Schema.DateTimeUtcFromString
}) {}

export const UserCommand = Schema.Union([RegisterUser, ChangeUserRoles]).pipe(Schema.toTaggedUnion("_tag"))
export type UserCommand = typeof UserCommand.Type
