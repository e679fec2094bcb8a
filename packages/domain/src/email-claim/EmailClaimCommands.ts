/** Claiming an address for a user; the email may arrive un-normalised. */
import { Schema } from "effect"

export class ClaimEmail extends Schema.TaggedClass<ClaimEmail>()("ClaimEmail", {
  email: Schema.String,
  userId: Schema.String,
  at: Schema.DateTimeUtcFromString
}) {}

export const EmailClaimCommand = Schema.Union([ClaimEmail]).pipe(Schema.toTaggedUnion("_tag"))
export type EmailClaimCommand = typeof EmailClaimCommand.Type
