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
