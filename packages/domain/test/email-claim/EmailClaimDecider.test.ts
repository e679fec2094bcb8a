import { describe, it } from "@effect/vitest"
import { ClaimEmail, EmailClaim, EmailClaimed, EmailTaken } from "../../src/email-claim/index.ts"
import { normaliseEmail } from "../../src/index.ts"
import { InvalidEmail } from "../../src/user/index.ts"
import { DeciderSpec } from "../DeciderSpec.ts"
import { at } from "../Fixtures.ts"

const ann = "0190b1a0-0000-7000-8000-000000000001"
const bob = "0190b1a0-0000-7000-8000-000000000002"
const claimed = new EmailClaimed({ email: "ann@example.com", userId: ann, at: at(0) })
const spec = DeciderSpec.for(EmailClaim)

describe("EmailClaim", () => {
  it("normalises by trimming and lower-casing", () => {
    spec.when(new ClaimEmail({ email: normaliseEmail(" ANN@example.com\t"), userId: ann, at: at(0) })).then([claimed])
  })

  describe("when unclaimed", () => {
    it("is claimed by the first user, normalised", () => {
      spec
        .given([])
        .when(new ClaimEmail({ email: "Ann@Example.com ", userId: ann, at: at(0) }))
        .then([claimed])
    })

    it("refuses an invalid address", () => {
      spec.when(new ClaimEmail({ email: "ann", userId: ann, at: at(0) })).thenFails(new InvalidEmail({ email: "ann" }))
    })
  })

  describe("when claimed", () => {
    it("refuses another user", () => {
      spec
        .given([claimed])
        .when(new ClaimEmail({ email: "ANN@example.com", userId: bob, at: at(1) }))
        .thenFails(new EmailTaken({ email: "ann@example.com" }))
    })

    it("records nothing when the same user claims again", () => {
      spec
        .given([claimed])
        .when(new ClaimEmail({ email: "ann@example.com", userId: ann, at: at(1) }))
        .thenNothing()
    })
  })
})
