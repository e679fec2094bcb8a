/**
 * Email addresses as the domain compares them: trimmed and lower-cased, so
 * "Ann@X.com " and "ann@x.com" claim the same address.
 */

/** The canonical form used for uniqueness (the email claim's id) and storage. */
export const normaliseEmail = (email: string): string => email.trim().toLowerCase()

const shape = /^[^\s@]+@[^\s@.][^\s@]*\.[^\s@]+$/

/** A plausible address (one "@", a dotted domain, no spaces, at most 254 characters); expects normalised input. */
export const isValidEmail = (email: string): boolean => email.length <= 254 && shape.test(email)
