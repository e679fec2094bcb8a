/**
 * String-keyed maps held in long-lived states (a SKU's open reservations, an
 * account's latest debits), as persistent hash maps: an update shares all
 * but a path of the map with the state before it, where a copied record cost
 * time and garbage in proportion to its size at every event (a popular SKU
 * with thousands of open orders copied thousands of entries per
 * reservation). Stored (snapshots, the wire) as the JSON records they were,
 * entry for entry and in the same order, so states written before read the
 * same.
 *
 * - `Entries`: a plain map (`EntriesOf(value)` is its schema).
 * - `Window`: the latest `max` keys in first-insertion order, the oldest
 *   forgotten first (`WindowOf(value)`), for closed business remembered
 *   for a while.
 *
 * Values must be plain data whose schema decodes to itself (numbers,
 * literals, structs of them).
 */
import { HashMap, Option, Schema, SchemaTransformation } from "effect"

export type Entries<V> = HashMap.HashMap<string, V>

export const emptyEntries = <V>(): Entries<V> => HashMap.empty<string, V>()

/** The value under `key`, if any. */
export const lookup = <V>(entries: Entries<V>, key: string): V | undefined =>
  Option.getOrUndefined(HashMap.get(entries, key))

/** `entries` with `key` set to `value`. */
export const withEntry = <V>(entries: Entries<V>, key: string, value: NoInfer<V>): Entries<V> =>
  HashMap.set(entries, key, value)

/** `entries` without `key`. */
export const withoutEntry = <V>(entries: Entries<V>, key: string): Entries<V> => HashMap.remove(entries, key)

/** The entries as a record (for readers and tests; the order is the map's own). */
export const entriesToRecord = <V>(entries: Entries<V>): Record<string, V> => Object.fromEntries(entries)

/** The schema of `Entries` of `value`, stored as a record. */
export const EntriesOf = <S extends Schema.Top>(value: S) => {
  const stored = Schema.Record(Schema.String, value)
  type Stored = typeof stored.Type
  return stored.pipe(
    Schema.decodeTo(
      Schema.HashMap(Schema.String, Schema.toType(value)),
      SchemaTransformation.transform({
        decode: (record: Stored) => HashMap.fromIterable(Object.entries(record) as Array<[string, S["Type"]]>),
        encode: (entries: HashMap.HashMap<string, S["Type"]>) => Object.fromEntries(entries) as Stored
      })
    )
  )
}

/**
 * The latest keys, each with its value and its place in the order
 * (`seq`); `order` maps a place back to its key. Places run without a hole
 * from `first` (the oldest) to `next - 1`.
 */
export interface Window<V> {
  readonly entries: HashMap.HashMap<string, readonly [value: V, seq: number]>
  readonly order: HashMap.HashMap<number, string>
  readonly first: number
  readonly next: number
}

export const emptyWindow = <V>(): Window<V> => ({
  entries: HashMap.empty(),
  order: HashMap.empty(),
  first: 0,
  next: 0
})

/** The value under `key`, if the window still holds it. */
export const lookupIn = <V>(window: Window<V>, key: string): V | undefined =>
  Option.getOrUndefined(HashMap.get(window.entries, key))?.[0]

/**
 * `window` with `key` set to `value`: a key already held keeps its place; a
 * new one goes last and, past `max` keys, the oldest are forgotten.
 */
export const withLatest = <V>(window: Window<V>, key: string, value: NoInfer<V>, max: number): Window<V> => {
  const held = Option.getOrUndefined(HashMap.get(window.entries, key))
  if (held !== undefined) return { ...window, entries: HashMap.set(window.entries, key, [value, held[1]] as const) }
  let entries = HashMap.set(window.entries, key, [value, window.next] as const)
  let order = HashMap.set(window.order, window.next, key)
  let first = window.first
  const next = window.next + 1
  while (next - first > max) {
    const oldest = Option.getOrUndefined(HashMap.get(order, first))
    if (oldest !== undefined) entries = HashMap.remove(entries, oldest)
    order = HashMap.remove(order, first)
    first++
  }
  return { entries, order, first, next }
}

/** How many keys the window holds. */
export const windowSize = (window: Window<unknown>): number => window.next - window.first

/** The window as a record, oldest key first. */
export const windowToRecord = <V>(window: Window<V>): Record<string, V> => {
  const pairs: Array<readonly [string, V]> = []
  for (let seq = window.first; seq < window.next; seq++) {
    const key = Option.getOrUndefined(HashMap.get(window.order, seq))
    const held = key === undefined ? undefined : Option.getOrUndefined(HashMap.get(window.entries, key))
    if (key !== undefined && held !== undefined) pairs.push([key, held[0]])
  }
  // `fromEntries` defines own properties: a key such as "__proto__" never sets the prototype.
  return Object.fromEntries(pairs)
}

const windowOfRecord = <V>(record: Record<string, V>): Window<V> => {
  let window = emptyWindow<V>()
  const keys = Object.keys(record)
  for (const key of keys) window = withLatest(window, key, record[key] as V, keys.length)
  return window
}

/** The schema of a `Window` of `value`, stored as a record (oldest key first). */
export const WindowOf = <S extends Schema.Top>(value: S) => {
  const stored = Schema.Record(Schema.String, value)
  type Stored = typeof stored.Type
  return stored.pipe(
    Schema.decodeTo(
      Schema.declare<Window<S["Type"]>>(
        (input): input is Window<S["Type"]> =>
          typeof input === "object" && input !== null && "entries" in input && "order" in input && "next" in input
      ),
      SchemaTransformation.transform({
        decode: (record: Stored) => windowOfRecord(record as Record<string, S["Type"]>),
        encode: (window: Window<S["Type"]>) => windowToRecord(window) as Stored
      })
    )
  )
}
