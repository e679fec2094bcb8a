/** Why a user command was refused. */
import { Schema } from "effect"

export class AlreadyRegistered extends Schema.TaggedError<AlreadyRegistered>()("AlreadyRegistered", {
  userId: Schema.String
}) {
  override get message() {
    return `user ${this.userId} is already registered`
  }
}

export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", {
  userId: Schema.String
}) {
  override get message() {
    return `user ${this.userId} does not exist`
  }
}

export class InvalidEmail extends Schema.TaggedError<InvalidEmail>()("InvalidEmail", {
  email: Schema.String
}) {
  override get message() {
    return `${JSON.stringify(this.email)} is not a valid email address`
  }
}

/** Every refusal of this aggregate, as one codec (its commands' errors cross the wire between nodes). */
export const UserError = Schema.Union([AlreadyRegistered, UserNotFound, InvalidEmail])
export type UserError = typeof UserError.Type
