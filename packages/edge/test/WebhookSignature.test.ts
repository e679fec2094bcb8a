import { describe, expect, it } from "@effect/vitest"
import { WebhookSignature } from "../src/index.ts"

const secret = "whsec-test"
const body = '{"payment_id":"p1","status":"succeeded"}'
const now = 1_800_000_000

describe("WebhookSignature", () => {
  it("accepts its own signature of the exact body", () => {
    expect(WebhookSignature.verify(secret, body, WebhookSignature.sign(secret, body, now), now)).toEqual({
      _tag: "Valid",
      timestamp: now
    })
  })

  it("refuses a body changed by one byte, another secret, or a missing header", () => {
    const header = WebhookSignature.sign(secret, body, now)
    expect(WebhookSignature.verify(secret, `${body} `, header, now)).toMatchObject({ reason: "mismatch" })
    expect(WebhookSignature.verify("other", body, header, now)).toMatchObject({ reason: "mismatch" })
    expect(WebhookSignature.verify(secret, body, undefined, now)).toMatchObject({ reason: "missing" })
  })

  it("refuses signatures older or newer than five minutes", () => {
    expect(WebhookSignature.verify(secret, body, WebhookSignature.sign(secret, body, now - 301), now)).toMatchObject({
      reason: "stale"
    })
    expect(WebhookSignature.verify(secret, body, WebhookSignature.sign(secret, body, now + 301), now)).toMatchObject({
      reason: "stale"
    })
    expect(WebhookSignature.verify(secret, body, WebhookSignature.sign(secret, body, now - 299), now)._tag).toBe(
      "Valid"
    )
  })

  it("refuses malformed headers without throwing", () => {
    for (const header of ["t=abc,v1=00", "v1=zz", "t=1", "garbage", `t=1,v1=${"g".repeat(64)}`, ",,,="]) {
      expect(WebhookSignature.verify(secret, body, header, now)._tag).toBe("Invalid")
    }
  })

  it("accepts any one matching v1 among several (secret rotation)", () => {
    const good = WebhookSignature.sign(secret, body, now)
    const other = WebhookSignature.sign("old-secret", body, now).split(",")[1]
    expect(WebhookSignature.verify(secret, body, `${good},${other}`, now)._tag).toBe("Valid")
  })
})
