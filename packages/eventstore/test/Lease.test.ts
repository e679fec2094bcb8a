/**
 * Leases on a real PostgreSQL: two processes (here two `Lease` layers, each
 * with its own pool and its own lease session) compete for the same lease;
 * only one runs the work at a time; when the holder's session is killed
 * (`pg_terminate_backend`), its work stops and the other takes over within
 * about one poll interval; a holder shut down hands over at once; work that
 * fails gives the lease up. Partitioned work is shared out among the nodes
 * and taken over from a dead one. A holder cut off from the database (its
 * connection hangs: a network partition) stops its work within seconds, and
 * before PostgreSQL ends its silent session and lets the other node in.
 */
import { type AddressInfo, connect, createServer, type Socket } from "node:net"
import { TestDatabase } from "@agora/testkit"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql"
import * as Lease from "../src/Lease.ts"

const pollMs = 200

/** What the competing works did: who runs now, the most that ever ran at once, every start and stop. */
const makeTracker = () => {
  const running = new Set<string>()
  const starts: Array<{ readonly node: string; readonly at: number }> = []
  const stops: Array<{ readonly node: string; readonly at: number }> = []
  let most = 0
  const resetMost = () => {
    most = running.size
  }
  /** Work that runs until interrupted (or fails after `failAfterMs`), noting itself. */
  const work = (node: string, failAfterMs?: number) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        running.add(node)
        most = Math.max(most, running.size)
        starts.push({ node, at: performance.now() })
      }),
      () => (failAfterMs === undefined ? Effect.never : Effect.fail("boom").pipe(Effect.delay(failAfterMs))),
      () =>
        Effect.sync(() => {
          running.delete(node)
          stops.push({ node, at: performance.now() })
        })
    )
  return { running, starts, stops, work, most: () => most, resetMost }
}

/** A process's leases: its own pool and lease session on the database, stopped by closing `scope`. */
const node = (url: string) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      Lease.layer.pipe(
        Layer.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 })),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ LEASE_POLL_INTERVAL: `${pollMs} millis` })))
      ),
      scope
    )
    return { lease: Context.get(context, Lease.Lease), scope }
  })

/** The backend holding the lease `name`, if any. */
const holderPid = (name: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ readonly pid: number }>`
      SELECT pid FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 2
        AND classid = ${Lease.keyspace} AND objid = ${Lease.keyOf(name) >>> 0}`
    return rows[0]?.pid
  })

const until = (what: string, check: () => boolean, timeoutMs = 10_000) =>
  Effect.gen(function* () {
    const deadline = performance.now() + timeoutMs
    while (!check()) {
      if (performance.now() > deadline) return assert.fail(`not within ${timeoutMs} ms: ${what}`)
      yield* Effect.sleep("10 millis")
    }
  })

/**
 * A TCP proxy to PostgreSQL that can freeze: from then on it forwards nothing
 * either way and closes nothing, as a dead network path looks.
 */
const freezableProxy = (target: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly url: string; readonly freeze: () => void; readonly close: () => void }>((resume) => {
      const upstream = new URL(target)
      const sockets = new Set<Socket>()
      let frozen = false
      const server = createServer((client) => {
        const backend = connect({ host: upstream.hostname, port: Number(upstream.port || 5432) })
        for (const socket of [client, backend]) {
          sockets.add(socket)
          socket.on("error", () => socket.destroy())
        }
        client.on("data", (chunk) => void (frozen || backend.write(chunk)))
        backend.on("data", (chunk) => void (frozen || client.write(chunk)))
        client.on("close", () => frozen || backend.destroy())
        backend.on("close", () => frozen || client.destroy())
      })
      server.listen(0, "127.0.0.1", () => {
        const url = new URL(target)
        url.hostname = "127.0.0.1"
        url.port = String((server.address() as AddressInfo).port)
        resume(
          Effect.succeed({
            url: url.toString(),
            freeze: () => {
              frozen = true
            },
            close: () => {
              for (const socket of sockets) socket.destroy()
              server.close()
            }
          })
        )
      })
    }),
    (proxy) => Effect.sync(proxy.close)
  )

describe("Lease", () => {
  it.live(
    "one holder at a time; a killed session stops its work and the other node takes over within about a poll interval",
    () =>
      Effect.gen(function* () {
        const url = yield* TestDatabase.create("lease-kill")
        const admin = yield* Layer.build(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 }))
        const a = yield* node(url)
        const b = yield* node(url)
        const tracker = makeTracker()
        yield* Effect.forkScoped(a.lease.run("relay", tracker.work("a")))
        yield* Effect.forkScoped(b.lease.run("relay", tracker.work("b")))
        yield* until("a holder runs the work", () => tracker.running.size === 1)
        yield* Effect.sleep(`${5 * pollMs} millis`)
        assert.strictEqual(tracker.most(), 1, "two holders at once")
        assert.strictEqual(tracker.starts.length, 1, "the lease changed hands with nobody failing")
        const first = tracker.starts[0]!.node
        const holder = first === "a" ? a : b
        assert.deepStrictEqual(
          (yield* holder.lease.status).map(({ name, held }) => ({ name, held })),
          [{ name: "relay", held: true }]
        )
        assert.isFalse((yield* (first === "a" ? b : a).lease.status)[0]?.held)

        const pid = yield* holderPid("relay").pipe(Effect.provide(admin))
        assert.isDefined(pid)
        const killed = performance.now()
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT pg_terminate_backend(${pid!})`).pipe(
          Effect.provide(admin)
        )
        yield* until("the other node runs the work", () => tracker.starts.some((s) => s.node !== first))
        const takeover = tracker.starts.find((s) => s.node !== first)!.at - killed
        yield* until("the old holder's work stops", () => tracker.stops.some((s) => s.node === first))
        const stopped = tracker.stops.find((s) => s.node === first)!.at - killed
        console.log(
          `Lease: holder's session killed; its work stopped after ${stopped.toFixed(0)} ms, the other node took over after ${takeover.toFixed(0)} ms (poll interval ${pollMs} ms)`
        )
        // The broken connection is noticed at once (not at the next heartbeat).
        assert.isBelow(stopped, pollMs)
        assert.isBelow(takeover, 3 * pollMs)
        // The old holder competes again on a new session, and waits its turn.
        tracker.resetMost()
        yield* Effect.sleep(`${5 * pollMs} millis`)
        assert.strictEqual(tracker.most(), 1, "two holders at once")
        assert.deepStrictEqual([...tracker.running], [first === "a" ? "b" : "a"])
        yield* Effect.forEach([a, b], (n) => Scope.close(n.scope, Exit.void))
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a holder cut off from the database stops its work within seconds, before PostgreSQL lets the other node in",
    () =>
      Effect.gen(function* () {
        const url = yield* TestDatabase.create("lease-cut")
        const proxy = yield* freezableProxy(url)
        const a = yield* node(proxy.url)
        const tracker = makeTracker()
        yield* Effect.forkScoped(a.lease.run("saga", tracker.work("a")))
        yield* until("a runs the work", () => tracker.running.has("a"))
        const b = yield* node(url)
        yield* Effect.forkScoped(b.lease.run("saga", tracker.work("b")))
        yield* Effect.sleep(`${3 * pollMs} millis`)
        const cut = performance.now()
        proxy.freeze()
        yield* until("b runs the work", () => tracker.running.has("b"), 20_000)
        const takeover = tracker.starts.find((s) => s.node === "b")!.at - cut
        const stopped = tracker.stops.find((s) => s.node === "a")?.at
        assert.isDefined(stopped, "a still runs the work")
        console.log(
          `Lease: holder cut off; its work stopped after ${(stopped! - cut).toFixed(0)} ms, the other node took over after ${takeover.toFixed(0)} ms`
        )
        assert.isBelow(stopped! - cut, 3_000)
        assert.strictEqual(tracker.most(), 1, "two holders at once")
        yield* Effect.forEach([a, b], (n) => Scope.close(n.scope, Exit.void))
      }).pipe(Effect.scoped),
    30_000
  )

  it.live("a holder that shuts down releases the lease and the other takes over at once", () =>
    Effect.gen(function* () {
      const url = yield* TestDatabase.create("lease-stop")
      const a = yield* node(url)
      const tracker = makeTracker()
      yield* Effect.forkIn(a.lease.run("projection:orders", tracker.work("a")), a.scope)
      yield* until("a runs the work", () => tracker.running.has("a"))
      const b = yield* node(url)
      yield* Effect.forkScoped(b.lease.run("projection:orders", tracker.work("b")))
      yield* Effect.sleep(`${3 * pollMs} millis`)
      assert.deepStrictEqual([...tracker.running], ["a"])
      const stopping = performance.now()
      yield* Scope.close(a.scope, Exit.void)
      assert.isFalse(tracker.running.has("a"), "the work outlived its process")
      yield* until("b runs the work", () => tracker.running.has("b"))
      const takeover = performance.now() - stopping
      console.log(`Lease: holder shut down; the other node took over after ${takeover.toFixed(0)} ms`)
      assert.isBelow(takeover, 2 * pollMs + 1_000)
      assert.strictEqual(tracker.most(), 1)
      yield* Scope.close(b.scope, Exit.void)
    }).pipe(Effect.scoped)
  )

  it.live("work that fails gives the lease up: another node takes it, and the failed one competes again later", () =>
    Effect.gen(function* () {
      const url = yield* TestDatabase.create("lease-fail")
      const a = yield* node(url)
      const tracker = makeTracker()
      yield* Effect.forkScoped(a.lease.run("timers", tracker.work("a", 300)))
      yield* until("a runs the work", () => tracker.running.has("a"))
      const b = yield* node(url)
      yield* Effect.forkScoped(b.lease.run("timers", tracker.work("b")))
      yield* until("b runs the work after a's failed", () => tracker.running.has("b"))
      assert.isTrue(tracker.stops.some((s) => s.node === "a"))
      assert.isFalse((yield* a.lease.status)[0]?.held)
      // a keeps competing (its pause grows) but b holds the lease.
      yield* Effect.sleep(`${5 * pollMs} millis`)
      assert.deepStrictEqual([...tracker.running], ["b"])
      assert.strictEqual(tracker.most(), 1)
      yield* Effect.forEach([a, b], (n) => Scope.close(n.scope, Exit.void))
    }).pipe(Effect.scoped)
  )

  it.live(
    "partitions are shared out (2 and 2), each run by one node at a time; a lost session's run again at once, a leaving node's go to the other",
    () =>
      Effect.gen(function* () {
        const url = yield* TestDatabase.create("lease-partitions")
        const admin = yield* Layer.build(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 }))
        const partitions = 4
        const running = new Map<number, Set<string>>()
        // A partition runs in at most one node at a time while nobody dies: hand-overs release before the other takes.
        let twice = 0
        const work = (node: string) => (partition: number) =>
          Effect.acquireUseRelease(
            Effect.sync(() => {
              const here = running.get(partition) ?? new Set<string>()
              here.add(node)
              running.set(partition, here)
              if (here.size > 1) twice++
            }),
            () => Effect.never,
            () => Effect.sync(() => running.get(partition)?.delete(node))
          )
        const count = (node: string) => [...running.values()].filter((nodes) => nodes.has(node)).length
        const a = yield* node(url)
        yield* Effect.forkScoped(a.lease.runPartitioned("saga", partitions, work("a")))
        yield* until("a runs every partition", () => count("a") === partitions)
        const b = yield* node(url)
        const joined = performance.now()
        yield* Effect.forkScoped(b.lease.runPartitioned("saga", partitions, work("b")))
        yield* until("a and b run two partitions each", () => count("a") === 2 && count("b") === 2, 15_000)
        console.log(`Lease: a second node joined; partitions 2 + 2 after ${(performance.now() - joined).toFixed(0)} ms`)
        // Stable: nothing moves once shared out.
        yield* Effect.sleep(`${5 * pollMs} millis`)
        assert.strictEqual(count("a"), 2)
        assert.strictEqual(count("b"), 2)
        assert.strictEqual(twice, 0, "a partition ran in two nodes at once")
        assert.deepStrictEqual(
          (yield* b.lease.status).map(({ name }) => name),
          ["saga/4/0", "saga/4/1", "saga/4/2", "saga/4/3"]
        )

        // a's session is killed: b takes a's partitions.
        const pids = yield* Effect.forEach([0, 1, 2, 3], (partition) =>
          holderPid(Lease.partitionName("saga", partitions, partition))
        ).pipe(Effect.provide(admin))
        const killed = performance.now()
        const aPid = pids.find((pid, partition) => running.get(partition)?.has("a") && pid !== undefined)
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT pg_terminate_backend(${aPid!})`).pipe(
          Effect.provide(admin)
        )
        yield* until("a's session is gone", () => count("a") < 2)
        yield* until("every partition runs again", () => count("a") + count("b") === partitions)
        console.log(
          `Lease: the session of a node with two partitions killed; all four ran again after ${(performance.now() - killed).toFixed(0)} ms`
        )
        // a is alive and back on a new session: the partitions are shared out again.
        yield* until("a and b run two partitions each again", () => count("a") === 2 && count("b") === 2, 15_000)
        // a leaves (shuts down): b runs them all, and counts itself alone (nothing is handed over to a gone node).
        yield* Scope.close(a.scope, Exit.void)
        yield* until("b runs every partition after a left", () => count("b") === partitions)
        yield* Effect.sleep(`${5 * pollMs} millis`)
        assert.strictEqual(count("b"), partitions)
        yield* Scope.close(b.scope, Exit.void)
      }).pipe(Effect.scoped),
    40_000
  )

  it.live("a lone process takes its lease again after failing work, once the pause is over", () =>
    Effect.gen(function* () {
      const url = yield* TestDatabase.create("lease-retry")
      const a = yield* node(url)
      const tracker = makeTracker()
      yield* Effect.forkScoped(a.lease.run("gauge", tracker.work("a", 50)))
      yield* until("the work ran three times", () => tracker.starts.length >= 3)
      // Pauses of one interval, then two: the work is not restarted in a tight loop.
      const gaps = tracker.starts.slice(1, 3).map((s, i) => s.at - tracker.starts[i]!.at)
      assert.isAbove(gaps[0]!, pollMs)
      assert.isAbove(gaps[1]!, 2 * pollMs)
      yield* Scope.close(a.scope, Exit.void)
    }).pipe(Effect.scoped)
  )
})
