/**
 * UUIDs for events and aggregates. Version 7 (time-ordered) for new ids, so the
 * btree indexes on them grow at their right edge; name-based ids (SHA-256 of a
 * name, shaped as version 8) for ids that a retry must reproduce exactly, such as
 * the events of a command that carries its own id.
 */
import { createHash, randomBytes } from "node:crypto"

const format = (b: Buffer): string => {
  const h = b.toString("hex")
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/** A new version 7 UUID: 48 bits of Unix milliseconds, then randomness. */
export const v7 = (now: number = Date.now()): string => {
  const b = randomBytes(16)
  b.writeUIntBE(now, 0, 6)
  b[6] = (b[6]! & 0x0f) | 0x70
  b[8] = (b[8]! & 0x3f) | 0x80
  return format(b)
}

/** The same UUID for the same name, every time (version 8, SHA-256 based). */
export const fromName = (name: string): string => {
  const b = createHash("sha256").update(name).digest().subarray(0, 16)
  b[6] = (b[6]! & 0x0f) | 0x80
  b[8] = (b[8]! & 0x3f) | 0x80
  return format(b)
}

const pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Whether `value` is a UUID in its canonical text form (any version). */
export const isUuid = (value: string): boolean => pattern.test(value)
