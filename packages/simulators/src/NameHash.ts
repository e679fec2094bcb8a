/**
 * Values derived from a name by SHA-256, the same every time: the simulators
 * answer a redelivered message with byte-identical ids, so the consumer's
 * inbox (keyed by `event_id`) drops the copy instead of applying it twice.
 * The UUID is shaped like `@agora/eventstore`'s `Uuid.fromName` (version 8);
 * it is rebuilt here so the simulators do not pull in the event store.
 */
import { createHash } from "node:crypto"

const digest = (name: string): Buffer => createHash("sha256").update(name).digest()

/** The same UUID for the same name (version 8, SHA-256 based). */
export const uuid = (name: string): string => {
  const b = digest(name).subarray(0, 16)
  b[6] = (b[6]! & 0x0f) | 0x80
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = b.toString("hex")
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

// Crockford's base 32: no I, L, O or U, so a code read aloud or typed is not misread.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/** `length` (≤ 51) upper-case letters and digits for the same name, every time. */
export const code = (name: string, length: number): string => {
  const b = digest(name)
  let out = ""
  for (let i = 0; i < length; i++) {
    const bit = i * 5
    const pair = (b[bit >> 3]! << 8) | (b[(bit >> 3) + 1] ?? 0)
    out += alphabet[(pair >> (11 - (bit & 7))) & 31]
  }
  return out
}

/** A number in [0, 1) for the same name, every time, evenly spread over names. */
export const fraction = (name: string): number => digest(name).readUIntBE(0, 6) / 2 ** 48
