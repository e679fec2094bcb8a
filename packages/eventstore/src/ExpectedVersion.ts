/**
 * What a writer believes about a stream before it appends: an exact version,
 * that the stream does not exist yet, that it exists, or nothing at all.
 */

/** The stream must be at exactly this version (0 = empty). */
export interface Exact {
  readonly _tag: "Exact"
  readonly version: number
}
/** The stream must not exist yet. */
export interface NoStream {
  readonly _tag: "NoStream"
}
/** The stream must exist (have at least one event). */
export interface StreamExists {
  readonly _tag: "StreamExists"
}
/** No check. */
export interface Any {
  readonly _tag: "Any"
}

export type ExpectedVersion = Exact | NoStream | StreamExists | Any

export const exact = (version: number): ExpectedVersion => ({ _tag: "Exact", version })
export const NoStream: ExpectedVersion = { _tag: "NoStream" }
export const StreamExists: ExpectedVersion = { _tag: "StreamExists" }
export const Any: ExpectedVersion = { _tag: "Any" }

/** True when a stream at `actual` satisfies the expectation. */
export const matches = (expected: ExpectedVersion, actual: number): boolean => {
  switch (expected._tag) {
    case "Exact":
      return expected.version === actual
    case "NoStream":
      return actual === 0
    case "StreamExists":
      return actual > 0
    case "Any":
      return true
  }
}

/** The wire code the PostgreSQL append function understands. */
export const toCode = (expected: ExpectedVersion): number => {
  switch (expected._tag) {
    case "Exact":
      return expected.version
    case "Any":
      return -1
    case "NoStream":
      return -2
    case "StreamExists":
      return -3
  }
}

/** For error messages. */
export const format = (expected: ExpectedVersion): string =>
  expected._tag === "Exact" ? String(expected.version) : expected._tag
