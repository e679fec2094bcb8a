/**
 * The claim on an email address: the persisted contract of `email-<address>`
 * streams. The application appends it together with `UserRegistered`, both
 * streams expected not to exist, so two registrations racing for one address
 * cannot both commit.
 */
import { Schema } from "effect"

export class EmailClaimed extends Schema.TaggedClass<EmailClaimed>()("EmailClaimed", {
  email: Schema.String,
  userId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export const EmailClaimEvent = Schema.Union([EmailClaimed]).pipe(Schema.toTaggedUnion("_tag"))
export type EmailClaimEvent = typeof EmailClaimEvent.Type
