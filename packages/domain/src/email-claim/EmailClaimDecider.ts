/**
 * The email claim decider: the first claim wins; another user's claim is
 * `EmailTaken`, while the same user claiming again records nothing (a retried
 * registration then fails on the user stream, not here).
 */
import type { Aggregate } from "../Decider.ts"
import { accept, type Decision, ignore, reject } from "../Decision.ts"
import { isValidEmail, normaliseEmail } from "../Email.ts"
import { InvalidEmail } from "../user/UserErrors.ts"
import { EmailClaimCommand } from "./EmailClaimCommands.ts"
import { EmailClaimError, EmailTaken } from "./EmailClaimErrors.ts"
import { EmailClaimEvent, EmailClaimed } from "./EmailClaimEvents.ts"
import { EmailClaimState, initialState } from "./EmailClaimState.ts"

export const decide = (
  command: EmailClaimCommand,
  state: EmailClaimState
): Decision<EmailClaimEvent, EmailClaimError> => {
  switch (command._tag) {
    case "ClaimEmail": {
      const email = normaliseEmail(command.email)
      if (!isValidEmail(email)) return reject(new InvalidEmail({ email: command.email }))
      if (state._tag === "Claimed") {
        return state.userId === command.userId ? ignore : reject(new EmailTaken({ email: state.email }))
      }
      return accept(new EmailClaimed({ email, userId: command.userId, at: command.at }))
    }
  }
}

export const evolve = (state: EmailClaimState, event: EmailClaimEvent): EmailClaimState => {
  switch (event._tag) {
    case "EmailClaimed":
      return state._tag === "Claimed"
        ? state
        : { _tag: "Claimed", email: event.email, userId: event.userId, claimedAt: event.at }
  }
}

/** The email claim aggregate: streams `email-<normalised email>` (the id is `normaliseEmail(email)`). */
export const EmailClaim: Aggregate<EmailClaimCommand, EmailClaimEvent, EmailClaimState, EmailClaimError> = {
  type: "email",
  initialState,
  decide,
  evolve,
  commandSchema: EmailClaimCommand,
  errorSchema: EmailClaimError,
  eventSchema: EmailClaimEvent,
  stateSchema: EmailClaimState,
  stateVersion: 1
}
