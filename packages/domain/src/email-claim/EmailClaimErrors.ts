/** Why an email claim was refused. */
import { Schema } from "effect"
import type { InvalidEmail } from "../user/UserErrors.ts"

export class EmailTaken extends Schema.TaggedError<EmailTaken>()("EmailTaken", {
  email: Schema.String
}) {
  override get message() {
    return `${this.email} is already registered`
  }
}

export type EmailClaimError = EmailTaken | InvalidEmail
