/**
 * Signed webhooks, the way Stripe signs them: the header
 * `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * The timestamp is inside the MAC, so a captured request cannot be replayed
 * after the tolerance (5 minutes), and the body is signed byte for byte, so
 * it must be verified before it is parsed. Several `v1` values may be given
 * (secret rotation); one match is enough. Comparison is constant-time.
 */
import { createHmac, timingSafeEqual } from "node:crypto"

/** How old (or how far in the future) a signature may be, in seconds. */
export const toleranceSeconds = 300

/** The header value for `body`, signed at `timestamp` (unix seconds). */
export const sign = (secret: string, body: string, timestamp: number = Math.floor(Date.now() / 1000)): string =>
  `t=${timestamp},v1=${mac(secret, timestamp, body)}`

const mac = (secret: string, timestamp: number, body: string) =>
  createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")

/** Why a signature was refused, if it was. */
export type Verdict =
  | { readonly _tag: "Valid"; readonly timestamp: number }
  | { readonly _tag: "Invalid"; readonly reason: "missing" | "malformed" | "stale" | "mismatch" }

/** Checks the header against the raw body and the clock (`now` in unix seconds). */
export const verify = (
  secret: string,
  body: string,
  header: string | undefined,
  now: number = Math.floor(Date.now() / 1000)
): Verdict => {
  if (header === undefined || header.trim() === "") return { _tag: "Invalid", reason: "missing" }
  let timestamp: number | undefined
  const signatures: Array<string> = []
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split("=", 2)
    if (key === "t" && value !== undefined && /^\d{1,12}$/.test(value)) timestamp = Number(value)
    if (key === "v1" && value !== undefined && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase())
  }
  if (timestamp === undefined || signatures.length === 0) return { _tag: "Invalid", reason: "malformed" }
  if (Math.abs(now - timestamp) > toleranceSeconds) return { _tag: "Invalid", reason: "stale" }
  const expected = Buffer.from(mac(secret, timestamp, body), "hex")
  const matches = signatures.some((candidate) => timingSafeEqual(Buffer.from(candidate, "hex"), expected))
  return matches ? { _tag: "Valid", timestamp } : { _tag: "Invalid", reason: "mismatch" }
}
