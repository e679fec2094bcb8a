/** A user as the decider sees it: not yet registered, or registered with its roles. */
import { Schema } from "effect"
import { Role } from "./UserEvents.ts"

export const Unregistered = Schema.TaggedStruct("Unregistered", {})

export const Registered = Schema.TaggedStruct("Registered", {
  userId: Schema.String,
  email: Schema.String,
  passwordHash: Schema.String,
  roles: Schema.Array(Role),
  registeredAt: Schema.DateTimeUtcFromString,
  updatedAt: Schema.DateTimeUtcFromString
})

export const UserState = Schema.Union([Unregistered, Registered]).pipe(Schema.toTaggedUnion("_tag"))
export type UserState = typeof UserState.Type

export const initialState: UserState = { _tag: "Unregistered" }
