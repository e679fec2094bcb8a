/**
 * The recent end of the log kept in memory for a process's subscriptions:
 * reads inside what is kept cost no query, a read at the end when no append
 * is known costs none either (until the answer is older than `freshFor`),
 * readers behind or ahead still get the log as PostgreSQL has it, and what is
 * kept never has a hole, whatever the positions skip and however small the
 * capacity.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as LogTail from "../src/internal/LogTail.ts"

interface Event {
  readonly position: number
}

/** A log whose positions skip some numbers (rolled-back appends), and the queries made of it. */
const world = (options: { readonly capacity?: number; readonly freshFor?: number } = {}) => {
  const log: Array<Event> = []
  let head = 0
  const queries: Array<number> = []
  const append = (n: number) => {
    for (let i = 0; i < n; i++) {
      // Every fifth position is skipped, as a rolled-back append leaves it.
      const next = (log.at(-1)?.position ?? 0) + (log.length % 5 === 4 ? 2 : 1)
      log.push({ position: next })
    }
    head = log.at(-1)?.position ?? 0
  }
  const query = ({ after, limit }: { readonly after: number; readonly limit: number }) =>
    Effect.sync(() => {
      queries.push(after)
      return log.filter((event) => event.position > after).slice(0, limit)
    })
  const tail = LogTail.make(query, {
    capacity: options.capacity ?? 1000,
    freshFor: options.freshFor ?? 60_000,
    head: () => head
  })
  const expected = (after: number, limit: number) => log.filter((event) => event.position > after).slice(0, limit)
  return { log, append, queries, tail, expected }
}

describe("the log's recent end, in memory", () => {
  it.effect("readers following the end share what one query read, and learn that nothing is new without one", () =>
    Effect.gen(function* () {
      const { append, queries, tail, expected } = world()
      append(10)
      const first = yield* tail.read({ after: 0, limit: 100 })
      assert.deepStrictEqual(first, expected(0, 100))
      assert.deepStrictEqual(queries, [0])
      // Three more readers a few events apart: all from memory.
      for (const after of [0, 3, 7])
        assert.deepStrictEqual(yield* tail.read({ after, limit: 100 }), expected(after, 100))
      // At the end with nothing appended since: "nothing new", no query.
      const end = first.at(-1)!.position
      assert.deepStrictEqual(yield* tail.read({ after: end, limit: 100 }), [])
      assert.deepStrictEqual(queries, [0])
      // An append is known (the head moved): the next read at the end queries, once, and the rest follow from memory.
      append(4)
      assert.deepStrictEqual(yield* tail.read({ after: end, limit: 100 }), expected(end, 100))
      assert.deepStrictEqual(yield* tail.read({ after: end, limit: 100 }), expected(end, 100))
      assert.deepStrictEqual(yield* tail.read({ after: 5, limit: 3 }), expected(5, 3))
      assert.deepStrictEqual(queries, [0, end])
    })
  )

  it.effect("an empty answer at the end stands only for `freshFor`: then the log is asked again (lost NOTIFYs)", () =>
    Effect.gen(function* () {
      const { log, append, queries, tail, expected } = world({ freshFor: 0 })
      append(3)
      yield* tail.read({ after: 0, limit: 10 })
      const end = log.at(-1)!.position
      yield* tail.read({ after: end, limit: 10 })
      assert.deepStrictEqual(queries, [0, end])
      // An append nobody announced (its NOTIFY lost): still found, since the empty answer is stale at once.
      log.push({ position: end + 1 })
      assert.deepStrictEqual(yield* tail.read({ after: end, limit: 10 }), expected(end, 10))
    })
  )

  it.effect("a reader far behind reads from the log, and one ahead moves what is kept to where it reads", () =>
    Effect.gen(function* () {
      const { append, queries, tail, expected } = world({ capacity: 100 })
      append(40)
      // A reader starting at 30 sets the kept range; one at 0 is before it and queries on its own.
      assert.deepStrictEqual(yield* tail.read({ after: 30, limit: 100 }), expected(30, 100))
      assert.deepStrictEqual(yield* tail.read({ after: 0, limit: 5 }), expected(0, 5))
      assert.deepStrictEqual(queries, [30, 0])
      assert.strictEqual(tail.range().from, 30)
      // A reader ahead of what is kept (starting at the head): what it reads is kept from there on.
      append(5)
      const ahead = expected(0, 1000).at(-3)!.position
      assert.deepStrictEqual(yield* tail.read({ after: ahead, limit: 100 }), expected(ahead, 100))
      assert.strictEqual(tail.range().from, ahead)
      assert.deepStrictEqual(yield* tail.read({ after: ahead, limit: 100 }), expected(ahead, 100))
      assert.strictEqual(queries.length, 3)
    })
  )

  it.effect("with a small capacity, pages read one after another are kept without a hole, the oldest dropped", () =>
    Effect.gen(function* () {
      const { append, tail, expected } = world({ capacity: 16 })
      let after = 0
      for (let round = 0; round < 50; round++) {
        append(1 + (round % 7))
        // A leader reads to the end in small pages; a follower a few events behind reads what is kept.
        for (;;) {
          const page = yield* tail.read({ after, limit: 3 })
          assert.deepStrictEqual(page, expected(after, 3))
          if (page.length === 0) break
          after = page.at(-1)!.position
          const { from } = tail.range()
          const follower = Math.max(from, after - 5)
          assert.deepStrictEqual(yield* tail.read({ after: follower, limit: 4 }), expected(follower, 4))
        }
        const { from, upTo, size } = tail.range()
        assert.strictEqual(upTo, after)
        assert.isAtMost(size, 20)
        // What is kept is exactly the log between its bounds.
        assert.strictEqual(size, expected(from, 1000).filter((event) => event.position <= upTo).length)
      }
    })
  )
  it.effect("an appender's committed events that follow on are kept without a query; others are left to a read", () =>
    Effect.gen(function* () {
      const { log, queries, tail, expected } = world({ freshFor: 0 })
      /** Appends `n` events at the next positions (no skips) and returns them, as the appender knows them. */
      const own = (n: number) => {
        const start = log.at(-1)?.position ?? 0
        const events = Array.from({ length: n }, (_, i) => ({ position: start + 1 + i }))
        log.push(...events)
        return events
      }
      // Nothing kept yet: a feed is ignored (the first read decides where keeping starts).
      assert.isFalse(tail.feed(own(2)))
      assert.deepStrictEqual(yield* tail.read({ after: 0, limit: 10 }), expected(0, 10))
      assert.deepStrictEqual(queries, [0])
      // Follows on: kept, and read from memory.
      assert.isTrue(tail.feed(own(3)))
      assert.deepStrictEqual(yield* tail.read({ after: 2, limit: 10 }), expected(2, 10))
      assert.deepStrictEqual(queries, [0])
      // Another writer got position 6 in between: this append does not follow on and is ignored; a read finds both.
      log.push({ position: 6 })
      assert.isFalse(tail.feed(own(2)))
      assert.isFalse(tail.feed([{ position: 10 }, { position: 12 }]))
      assert.strictEqual(tail.range().upTo, 5)
      assert.deepStrictEqual(yield* tail.read({ after: 5, limit: 10 }), expected(5, 10))
      assert.deepStrictEqual(queries, [0, 5])
      // A feed does not stand for an answer from the log: with freshFor 0 the end is asked again.
      assert.isTrue(tail.feed(own(1)))
      assert.deepStrictEqual(yield* tail.read({ after: 9, limit: 10 }), [])
      assert.deepStrictEqual(queries, [0, 5, 9])
    })
  )
})
