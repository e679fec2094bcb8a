/** An address is free, or claimed by one user. */
import { Schema } from "effect"

export const Unclaimed = Schema.TaggedStruct("Unclaimed", {})

export const Claimed = Schema.TaggedStruct("Claimed", {
  email: Schema.String,
  userId: Schema.String,
  claimedAt: Schema.DateTimeUtcFromString
})

export const EmailClaimState = Schema.Union([Unclaimed, Claimed]).pipe(Schema.toTaggedUnion("_tag"))
export type EmailClaimState = typeof EmailClaimState.Type

export const initialState: EmailClaimState = { _tag: "Unclaimed" }
