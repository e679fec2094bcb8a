/**
 * Immutable updates of string-keyed records (the JSON-friendly maps held in
 * states). Lookups use own properties only, so an id such as "constructor"
 * never finds something on the prototype.
 */

/** The value stored under `key`, if any. */
export const lookup = <V>(record: Readonly<Record<string, V>>, key: string): V | undefined =>
  Object.hasOwn(record, key) ? record[key] : undefined

/** A copy with `key` set to `value` (a computed key never sets the prototype, even "__proto__"). */
export const withEntry = <V>(
  record: Readonly<Record<string, V>>,
  key: string,
  value: NoInfer<V>
): Record<string, V> => ({
  ...record,
  [key]: value
})

/** A copy without `key`. */
export const withoutEntry = <V>(record: Readonly<Record<string, V>>, key: string): Record<string, V> => {
  const copy = { ...record }
  delete copy[key]
  return copy
}

/**
 * A copy with `key` set to `value` that keeps at most `max` entries: when
 * over, the oldest entries (first inserted) go. For records that remember
 * closed business per order in a long-lived aggregate, where all of history
 * would grow without bound; see each state's note for what covers the rest.
 */
export const withEntryBounded = <V>(
  record: Readonly<Record<string, V>>,
  key: string,
  value: NoInfer<V>,
  max: number
): Record<string, V> => {
  const copy = withEntry(record, key, value)
  let excess = Object.keys(copy).length - max
  if (excess <= 0) return copy
  for (const oldest of Object.keys(copy)) {
    if (excess-- <= 0) break
    if (oldest !== key) delete copy[oldest]
    else excess++
  }
  return copy
}
