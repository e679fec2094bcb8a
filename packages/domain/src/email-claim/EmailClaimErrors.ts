/** Why an email claim was refused. */
import { Schema } from "effect"
import { InvalidEmail } from "../user/UserErrors.ts"

export class EmailTaken extends Schema.TaggedError<EmailTaken>()("EmailTaken", {
  email: Schema.String
}) {
  override get message() {
    return `${this.email} is already registered`
  }
}

/** Every refusal of this aggregate, as one codec (its commands' errors cross the wire between nodes). */
export const EmailClaimError = Schema.Union([EmailTaken, InvalidEmail])
export type EmailClaimError = typeof EmailClaimError.Type
