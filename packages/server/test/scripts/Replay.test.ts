/**
 * `pnpm replay` in-process on a test database holding a small known log:
 * ranges, filters, the pretty and JSON-lines formats, the summary, and the
 * page-wise reader underneath.
 */
import { EventStore, ExpectedVersion, PgEventStore, Uuid } from "@agora/eventstore"
import { MemoryReadModelStore, ProjectionRunner, ReadModelStore } from "@agora/readmodels"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as Cli from "../../src/scripts/Cli.ts"
import * as LogReader from "../../src/scripts/LogReader.ts"
import * as Output from "../../src/scripts/Output.ts"
import * as Replay from "../../src/scripts/Replay.ts"

/** The log, in position order: [stream, type]. */
const log: ReadonlyArray<readonly [string, string]> = [
  ["order-a", "OrderPlaced"],
  ["account-b", "AccountOpened"],
  ["order-a", "OrderPaid"],
  ["order-c", "OrderPlaced"],
  ["account-b", "AccountToppedUp"],
  ["order-a", "OrderShipped"],
  ["order-c", "OrderPaid"]
]

const Seeded = Layer.effectDiscard(
  Effect.gen(function* () {
    const store = yield* EventStore
    for (const [i, [streamId, type]] of log.entries()) {
      yield* store.append(streamId, ExpectedVersion.Any, [
        { eventId: Uuid.v7(), type, data: { n: i + 1, note: "a b" }, metadata: { correlationId: "c-1" } }
      ])
    }
  })
)

const Stack = Seeded.pipe(
  Layer.provideMerge(MemoryReadModelStore.layer),
  Layer.provideMerge(PgEventStore.layer()),
  Layer.provideMerge(TestDatabase.layer("scripts_replay")),
  Layer.orDie
)

/** Runs `pnpm replay <argv>` in-process: its exit code and what it wrote. */
const replay = (...argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { written, layer: output } = Output.capture()
    const code = yield* Cli.execute(Replay.script, argv, (run) => run).pipe(Effect.provide(output))
    return { code, out: written.out, err: written.err }
  })

interface EventLine {
  readonly position: number
  readonly stream_id: string
  readonly stream_type: string
  readonly version: number
  readonly event_id: string
  readonly type: string
  readonly recorded_at: string
  readonly data: { readonly n: number; readonly note: string }
  readonly metadata: Record<string, unknown>
}

const jsonLines = (out: string): ReadonlyArray<EventLine> =>
  out
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as EventLine)

const positions = (out: string) => jsonLines(out).map((e) => e.position)

describe("pnpm replay", () => {
  layer(Stack, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("--json prints the whole log as JSON lines, in order, with every field", () =>
      Effect.gen(function* () {
        const { code, out, err } = yield* replay("--json")
        assert.strictEqual(code, 0)
        const events = jsonLines(out)
        assert.deepStrictEqual(
          events.map((e) => [e.position, e.stream_id, e.version, e.type]),
          [
            [1, "order-a", 1, "OrderPlaced"],
            [2, "account-b", 1, "AccountOpened"],
            [3, "order-a", 2, "OrderPaid"],
            [4, "order-c", 1, "OrderPlaced"],
            [5, "account-b", 2, "AccountToppedUp"],
            [6, "order-a", 3, "OrderShipped"],
            [7, "order-c", 2, "OrderPaid"]
          ]
        )
        const first = events[0]!
        assert.strictEqual(first.stream_type, "order")
        assert.deepStrictEqual(first.data, { n: 1, note: "a b" })
        assert.deepStrictEqual(first.metadata, { correlationId: "c-1" })
        assert.isTrue(Uuid.isUuid(first.event_id))
        assert.isFalse(Number.isNaN(Date.parse(first.recorded_at)))
        assert.match(err, /^replay: 7 events scanned, 7 printed in .* \(.* events\/s\); positions 1\.\.7\n$/)
      })
    )

    it.effect("--from and --to bound the range (both inclusive)", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(positions((yield* replay("--from", "5", "--json")).out), [5, 6, 7])
        const bounded = yield* replay("--from", "2", "--to", "4", "--json")
        assert.deepStrictEqual(positions(bounded.out), [2, 3, 4])
        assert.include(bounded.err, "3 events scanned, 3 printed")
        const past = yield* replay("--from", "99", "--json")
        assert.strictEqual(past.code, 0)
        assert.strictEqual(past.out, "")
        assert.include(past.err, "nothing at or after position 99")
      })
    )

    it.effect("--stream keeps one stream (read through its own index), within the range", () =>
      Effect.gen(function* () {
        const all = yield* replay("--stream", "order-a", "--json")
        assert.deepStrictEqual(positions(all.out), [1, 3, 6])
        assert.include(all.err, "3 events scanned, 3 printed")
        assert.deepStrictEqual(positions((yield* replay("--stream", "order-a", "--from", "2", "--json")).out), [3, 6])
        assert.deepStrictEqual(positions((yield* replay("--stream", "order-a", "--to", "5", "--json")).out), [1, 3])
        assert.strictEqual((yield* replay("--stream", "order-zzz", "--json")).out, "")
      })
    )

    it.effect("--type and --stream-type filter, repeatably, and combine with the other filters", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(positions((yield* replay("--type", "OrderPlaced", "--json")).out), [1, 4])
        assert.deepStrictEqual(
          positions((yield* replay("--type", "OrderPlaced", "--type", "OrderPaid", "--json")).out),
          [1, 3, 4, 7]
        )
        const accounts = yield* replay("--stream-type", "account", "--json")
        assert.deepStrictEqual(positions(accounts.out), [2, 5])
        assert.include(accounts.err, "7 events scanned, 2 printed")
        assert.deepStrictEqual(positions((yield* replay("--stream-type", "payment-account", "--json")).out), [2, 5])
        assert.deepStrictEqual(
          positions((yield* replay("--type", "OrderPaid", "--stream", "order-c", "--from", "3", "--json")).out),
          [7]
        )
      })
    )

    it.effect("prints one line per event for people, and --limit stops early", () =>
      Effect.gen(function* () {
        const { code, out } = yield* replay("--from", "6", "--limit", "1")
        assert.strictEqual(code, 0)
        assert.strictEqual(out, '#6  order-a  v3  OrderShipped  {"n":6,"note":"a b"}\n')
        const limited = yield* replay("--limit", "3", "--page-size", "2", "--json")
        assert.deepStrictEqual(positions(limited.out), [1, 2, 3])
        assert.include(limited.err, "4 events scanned, 3 printed")
      })
    )

    it.effect("bad arguments are a usage error (exit 2); --help prints the usage and mentions --project", () =>
      Effect.gen(function* () {
        for (const argv of [["--from", "x"], ["--from", "0"], ["--from", "5", "--to", "2"], ["--nope"], ["extra"]]) {
          const { code, out, err } = yield* replay(...argv)
          assert.strictEqual(code, 2, argv.join(" "))
          assert.strictEqual(out, "")
          assert.include(err, "Usage: pnpm replay")
        }
        const unknownType = yield* replay("--stream-type", "widget")
        assert.include(unknownType.err, "unknown stream type widget")
        const help = yield* replay("--help")
        assert.strictEqual(help.code, 0)
        assert.include(help.out, "--project NAME")
      })
    )

    it.effect("LogReader reads a page at a time and knows how much it will scan", () =>
      Effect.gen(function* () {
        const read = yield* LogReader.open({ from: 2, to: 6, pageSize: 2, filter: { streamTypes: ["order"] } })
        assert.deepStrictEqual([read.from, read.to, read.expected], [2, 6, 5])
        const pages = yield* Stream.runCollect(read.pages)
        assert.deepStrictEqual(
          pages.map((p) => [p.scanned, p.through, p.events.map((e) => e.position)]),
          [
            [2, 3, [3]],
            [2, 5, [4]],
            [1, 6, [6]]
          ]
        )
        const head = yield* LogReader.open({})
        assert.deepStrictEqual([head.from, head.to, head.expected], [1, 7, 7])
      })
    )
    it.effect("--project re-feeds the selected events to a read model; what it cannot apply is parked again", () =>
      Effect.gen(function* () {
        const { code, out, err } = yield* replay("--stream", "order-a", "--project", "orders")
        assert.strictEqual(code, 0)
        assert.strictEqual(out, "", "nothing printed: the events went to the projection")
        // The test log's events are not real order events: the projection cannot apply them.
        assert.match(err, /replay → orders: 3 events fed, 3 applied in .*3 parked again/)
        const store = yield* ReadModelStore
        const parked = yield* store.indexRange({ projection: "orders" }, ProjectionRunner.parkedIndex, {
          order: "asc",
          limit: 10
        })
        assert.deepStrictEqual(
          parked.map((entry) => (JSON.parse(entry.member) as { position: number }).position),
          [1, 3, 6]
        )
        const unknown = yield* replay("--project", "nope")
        assert.strictEqual(unknown.code, Cli.exitCodes.usage)
        assert.include(unknown.err, "unknown projection nope")
      })
    )
  })
})
