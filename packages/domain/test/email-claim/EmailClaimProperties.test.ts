import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import {
  ClaimEmail,
  EmailClaim,
  type EmailClaimCommand,
  type EmailClaimEvent,
  EmailClaimed,
  type EmailClaimState
} from "../../src/email-claim/index.ts"
import { assertJsonRoundTrip, at } from "../Fixtures.ts"
import { arbitraryAt, checkAggregate, sequences } from "../Properties.ts"

// One stream per address: every spelling of the same address, and a few invalid ones.
const command: fc.Arbitrary<EmailClaimCommand> = fc
  .record({
    email: fc.constantFrom("ann@example.com", " ANN@example.com", "Ann@Example.Com\n", "ann"),
    userId: fc.constantFrom("u1", "u2", "u3"),
    at: arbitraryAt
  })
  .map((c) => new ClaimEmail(c))

const invariant = (state: EmailClaimState, events: ReadonlyArray<EmailClaimEvent>) => {
  // The first claim wins, once and for good.
  assert.strictEqual(events.length, 1)
  assert.deepInclude(state, { _tag: "Claimed", email: "ann@example.com", userId: events[0]!.userId })
}

describe("EmailClaim properties", () => {
  it("is claimed once, by the first valid claimant, over any sequence of claims", () => {
    checkAggregate(EmailClaim, sequences(command, 20), { invariant, idempotent: () => true })
  })

  it("round-trips its event and every state through JSON", () => {
    const claimed = new EmailClaimed({ email: "ann@example.com", userId: "u1", at: at(0) })
    assertJsonRoundTrip(EmailClaim.eventSchema, claimed)
    assertJsonRoundTrip(EmailClaim.stateSchema, EmailClaim.initialState)
    assertJsonRoundTrip(EmailClaim.stateSchema, EmailClaim.evolve(EmailClaim.initialState, claimed))
  })
})
