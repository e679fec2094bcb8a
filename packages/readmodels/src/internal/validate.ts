/**
 * Input checks shared by the adapters, so that both refuse the same calls, and
 * refuse them before anything is written: a Lua script that fails halfway
 * keeps the writes it already made, so a bad TTL or score must never reach it.
 */
import { Effect } from "effect"
import { type CommitOptions, type Partition, ReadModelError, type Write } from "../ReadModelStore.ts"

const refuse = (operation: string, message: string) =>
  Effect.fail(new ReadModelError({ operation, cause: new Error(message) }))

/**
 * A projection name keys a namespace of its own: a `:` in it could make one
 * projection's keys look like another's generation (`orders` and `orders:g1`).
 */
export const projection = (operation: string, name: string): Effect.Effect<void, ReadModelError> =>
  name === "" || name.includes(":")
    ? refuse(operation, `invalid projection name ${JSON.stringify(name)}: it must be non-empty and hold no ':'`)
    : Effect.void

/** A generation number as `newGeneration` hands them out. */
export const generation = (operation: string, name: string, n: number): Effect.Effect<void, ReadModelError> =>
  Effect.flatMap(projection(operation, name), () =>
    Number.isSafeInteger(n) && n >= 1 ? Effect.void : refuse(operation, `invalid generation ${n} of ${name}`)
  )

/** The first thing wrong with a write, if any. */
const invalidWrite = (write: Write): string | undefined => {
  switch (write._tag) {
    case "Put":
      if (!Number.isFinite(write.version)) return `Put ${write.key}: version ${write.version} is not finite`
      if (write.ttlSeconds !== undefined && !(Number.isFinite(write.ttlSeconds) && write.ttlSeconds > 0))
        return `Put ${write.key}: ttlSeconds ${write.ttlSeconds} is not a positive number`
      return undefined
    case "Drop":
      return Number.isNaN(write.belowVersion) ? `Drop ${write.key}: belowVersion is NaN` : undefined
    case "IndexAdd":
      return Number.isNaN(write.score) ? `IndexAdd ${write.key}: score is NaN` : undefined
    case "IndexRemove":
      return undefined
  }
}

/** A commit's checkpoints and every one of its writes. */
export const commit = (operation: string, options: CommitOptions): Effect.Effect<void, ReadModelError> => {
  if (!Number.isFinite(options.expectedCheckpoint) || !Number.isFinite(options.checkpoint))
    return refuse(operation, `checkpoints must be finite (${options.expectedCheckpoint} → ${options.checkpoint})`)
  if (options.partition !== undefined) {
    const problem = invalidPartition(options.partition)
    if (problem !== undefined) return refuse(operation, problem)
  }
  for (const write of options.writes) {
    const problem = invalidWrite(write)
    if (problem !== undefined) return refuse(operation, problem)
  }
  return Effect.void
}

const invalidPartition = (partition: Partition): string | undefined =>
  Number.isInteger(partition.of) &&
  partition.of >= 2 &&
  partition.of <= 256 &&
  Number.isInteger(partition.index) &&
  partition.index >= 0 &&
  partition.index < partition.of
    ? undefined
    : `a partition is an index 0 to of - 1 of 2 to 256 partitions (got ${partition.index} of ${partition.of})`

/** A partition of a projection split by stream. */
export const partition = (operation: string, given: Partition): Effect.Effect<void, ReadModelError> => {
  const problem = invalidPartition(given)
  return problem === undefined ? Effect.void : refuse(operation, problem)
}

/** A document filled by a reader, as a `Put` would store it. */
export const fill = (
  operation: string,
  key: string,
  version: number,
  ttlSeconds: number | undefined
): Effect.Effect<void, ReadModelError> => {
  const problem = invalidWrite({ _tag: "Put", key, version, json: "", ttlSeconds })
  return problem === undefined ? Effect.void : refuse(operation, problem)
}

/** A page size as a count: whole, at least 0 (NaN: 0), `Infinity` meaning no limit. */
export const limit = (n: number): number =>
  n === Number.POSITIVE_INFINITY ? Number.MAX_SAFE_INTEGER : Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0
