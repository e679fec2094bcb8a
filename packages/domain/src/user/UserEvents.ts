/**
 * What happened to a user: the persisted contract of `user-<id>` streams.
 * Emails are stored normalised; the password is only ever a hash.
 */
import { Schema } from "effect"

export const Role = Schema.Literals(["customer", "admin"])
export type Role = typeof Role.Type

export class UserRegistered extends Schema.TaggedClass<UserRegistered>()("UserRegistered", {
  userId: Schema.String,
  email: Schema.String,
  passwordHash: Schema.String,
  roles: Schema.Array(Role),
  at: Schema.DateTimeUtcFromString
}) {}

export class UserRolesChanged extends Schema.TaggedClass<UserRolesChanged>()("UserRolesChanged", {
  userId: Schema.String,
  roles: Schema.Array(Role),
  at: Schema.DateTimeUtcFromString
}) {}

export const UserEvent = Schema.Union([UserRegistered, UserRolesChanged]).pipe(Schema.toTaggedUnion("_tag"))
export type UserEvent = typeof UserEvent.Type
