/**
 * Leases: background work that must run in one process at a time across all
 * the nodes on one database (a projection, the saga's subscription, the
 * outbox relay, a timer scheduler, a gauge reporter) runs only while this
 * process holds the work's lease.
 *
 * A lease is a session-level PostgreSQL advisory lock, taken with
 * `pg_try_advisory_lock` on a connection of the process's own, apart from the
 * pool (one per process, for all its leases, so leases never starve the
 * pool). A process that does not hold a lease asks again every
 * `LEASE_POLL_INTERVAL` (default 1 s). The session is lost — every lease's
 * work interrupted, the connection closed — the moment its connection breaks
 * (a listener on it fails), or when a heartbeat, sent every interval, is not
 * answered within two intervals (at least 1 s): a node cut from the database
 * stops within seconds. The session is opened with `idle_session_timeout`
 * at five intervals (at least 5 s): PostgreSQL ends the session of a node
 * gone silent, freeing its locks, after that node has stopped its work. A
 * process killed outright loses its session at once and another node takes
 * over within about one interval. Work that fails gives the lease up and
 * competes again after a growing pause; interruption (shutdown) releases it.
 *
 * Work split into partitions (`runPartitioned`: the saga's log follower by
 * order id) has a lease per partition, shared out among the processes that
 * run it: each holds a shared lock on the group (so `pg_locks` counts the
 * members), takes a free partition only while no other member holds fewer,
 * and hands one over when it holds two more than the least loaded member.
 *
 * Correctness never rests on a lease: two holders for a moment (a slow
 * network) is possible, so the work stays safe to run twice — optimistic
 * concurrency and the transactions' own advisory locks remain the backstop.
 *
 * Observability: the gauge `agora_lease_held{lease}` (1 while held here),
 * an info line when a lease is taken or released, a warning when one is lost,
 * and `status` for readiness reports.
 */
import { PgClient, PgConnection } from "@effect/sql-pg"
import {
  Cause,
  Clock,
  Config,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Metric,
  Option,
  Queue,
  Schema,
  Scope,
  Semaphore
} from "effect"

/** How often a process asks for a lease another holds, and how often a held one is checked. */
export const pollIntervalConfig = Config.Duration("LEASE_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(1)))

/** One lease as this process sees it. */
export interface LeaseStatus {
  readonly name: string
  /** Whether this process holds it now. */
  readonly held: boolean
  /** When this process took it, while it holds it. */
  readonly since: Date | undefined
}

export class Lease extends Context.Service<
  Lease,
  {
    /**
     * Runs `work` while this process holds the lease `name`, for as long as
     * the returned effect runs (it never ends by itself): competes for the
     * lease, runs `work` once taken, interrupts it when the lease is lost,
     * and competes again after `work` ends, fails or is cut off.
     */
    readonly run: <E, R>(name: string, work: Effect.Effect<unknown, E, R>) => Effect.Effect<never, never, R>
    /**
     * Work split into `partitions`, each under its own lease
     * (`partitionName`), shared out among the processes that run the same
     * group: `work(partition)` runs for each partition this process holds.
     * A process holding two more partitions than another member hands one
     * over; the partitions of a process that dies are taken by the others.
     */
    readonly runPartitioned: <E, R>(
      group: string,
      partitions: number,
      work: (partition: number) => Effect.Effect<unknown, E, R>
    ) => Effect.Effect<never, never, R>
    /** Every lease this process competes for, held here or not. */
    readonly status: Effect.Effect<ReadonlyArray<LeaseStatus>>
  }
>()("@agora/eventstore/Lease") {}

/**
 * The first key of every lease's advisory lock ("LEAS"): the two-integer key
 * space, apart from the one-`bigint` keys that transactions lock.
 */
export const keyspace = 0x4c454153

/** The first key of a group's membership lock ("MEMB"), held shared by every member. */
export const memberKeyspace = 0x4d454d42

/** The lease of one partition of a group: `fulfilment-saga/4/0` … `fulfilment-saga/4/3`. */
export const partitionName = (group: string, partitions: number, partition: number) =>
  `${group}/${partitions}/${partition}`

/** A stable 32-bit hash (FNV-1a) of `text`, unsigned. */
const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** The second key of a lease's lock: the hash of its name, as a signed integer. */
export const keyOf = (name: string): number => fnv1a(name) | 0

/** The partition of `partitions` that `key` (an order id, say) falls in: by the same stable hash. */
export const partitionOf = (key: string, partitions: number): number => fnv1a(key) % partitions

const heldGauge = (name: string) =>
  Metric.gauge("agora_lease_held", {
    description: "1 while this process holds the lease (runs the work), 0 otherwise",
    attributes: { lease: name }
  })

/** The database session the process's leases are held on. */
interface Session {
  readonly connection: PgConnection.PgConnection
  /** Done once the session is given up: every lease held on it is lost. */
  readonly lost: Deferred.Deferred<void>
  readonly scope: Scope.Closeable
}

interface Entry {
  held: boolean
  since: Date | undefined
  readonly gauge: Metric.Metric<number, unknown>
  /** While held: completed to make the holder hand the lease over (balancing partitions). */
  handover: Deferred.Deferred<void> | undefined
}

/** Whether this process may take a lease now, on this session. */
type Gate = (session: Session) => boolean

/** What one turn of competing for a lease came to. */
type Turn =
  | { readonly _tag: "Unavailable" }
  | { readonly _tag: "Busy" }
  | { readonly _tag: "Lost" }
  | { readonly _tag: "HandedOver" }
  | { readonly _tag: "Ended"; readonly exit: Exit.Exit<unknown, unknown>; readonly heldMs: number }

/** A statement on the lease session failed or went unanswered: the session is given up. */
class SessionFailed extends Schema.TaggedError<SessionFailed>()("SessionFailed", { reason: Schema.String }) {}

/** A channel nobody notifies: listening on it only tells when the session's connection breaks. */
const watchChannel = "agora_lease_watch"

const isTrue = (value: unknown) => value === true || value === "t" || value === "true"

/** The leases of this process, on a connection of their own to the `PgClient`'s database. */
export const layer: Layer.Layer<Lease, Config.ConfigError, PgClient.PgClient> = Layer.effect(
  Lease,
  Effect.gen(function* () {
    const client = yield* PgClient.PgClient
    const interval = yield* pollIntervalConfig
    const intervalMs = Math.max(1, Duration.toMillis(interval))
    const heartbeatTimeout = Duration.millis(Math.max(2 * intervalMs, 1_000))
    const idleSessionTimeoutMs = Math.max(5 * intervalMs, 5_000)
    const layerScope = yield* Scope.Scope
    const { url, host, port, path, ssl, database, username, password, connectTimeout, stream, types } = client.config
    const connectionConfig: PgConnection.Config = {
      url,
      host,
      port,
      path,
      ssl,
      database,
      username,
      password,
      connectTimeout,
      stream,
      types,
      applicationName: "agora-lease",
      prepare: false
    }

    const entries = new Map<string, Entry>()
    let current: Session | undefined
    let unreachable = false
    // Set as the layer shuts down: the sessions close, and the leases' loops end instead of opening new ones.
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
      })
    )
    const opening = Semaphore.makeUnsafe(1)

    /** Gives the session up (once): its leases are lost; the connection is closed in the background. */
    const lose = (session: Session, reason: string) =>
      Effect.gen(function* () {
        if (!(yield* Deferred.succeed(session.lost, undefined))) return
        if (current === session) current = undefined
        if (!closed) {
          yield* Effect.logWarning(
            `lease: the database session is lost (${reason}); the leases held on it are given up`
          )
        }
        yield* Effect.forkIn(
          Scope.close(session.scope, Exit.void).pipe(Effect.timeout(heartbeatTimeout), Effect.ignore),
          layerScope
        )
      })

    /**
     * A statement on the session, bounded by the heartbeat timeout; a failure gives the session up (unless
     * `givesUp` is false: a statement whose refusal is no sign of a broken connection). The statement
     * runs in a fiber of the session's: on a dead network path its interruption would wait for an answer that never
     * comes, so the caller does not wait for it — closing the session ends it.
     */
    const query = (session: Session, text: string, params: ReadonlyArray<unknown>, givesUp = true) =>
      Effect.gen(function* () {
        const statement = yield* Effect.forkIn(session.connection.query(text, params, false), session.scope)
        const answered = yield* Fiber.await(statement).pipe(
          Effect.timeoutOption(heartbeatTimeout),
          Effect.onInterrupt(() => Effect.forkIn(Fiber.interrupt(statement), session.scope))
        )
        // A plain failure either way, never the statement's own cause (an interruption there is not the caller's).
        const failed = (reason: string) =>
          Effect.andThen(givesUp ? lose(session, reason) : Effect.void, Effect.fail(new SessionFailed({ reason })))
        if (Option.isNone(answered)) return yield* failed(`no answer within ${Duration.format(heartbeatTimeout)}`)
        if (Exit.isFailure(answered.value)) {
          const error = Cause.squash(answered.value.cause)
          return yield* failed(error instanceof Error ? error.message : String(error))
        }
        return answered.value.value.rows
      }).pipe(
        // Polls, not work to follow in traces (the work traces itself).
        Effect.withTracerEnabled(false)
      )

    const heartbeat = (session: Session): Effect.Effect<void> =>
      Effect.gen(function* () {
        while (true) {
          yield* Effect.sleep(interval)
          const beat = yield* Effect.exit(query(session, "SELECT 1", []))
          if (Exit.isFailure(beat)) return
        }
      })

    const open = Effect.gen(function* () {
      const scope = yield* Scope.fork(layerScope)
      const connection = yield* Effect.gen(function* () {
        const connection = yield* PgConnection.make(connectionConfig)
        // Pinned: the connection is this session's alone; statements through the pin skip the ownership queue.
        const pinned = yield* connection.pin
        // The listener fails the moment the connection breaks (the server ended the session, a reset): the leases
        // are given up at once rather than at the next heartbeat.
        const watch = yield* pinned.listen(watchChannel)
        return { pinned, watch }
      }).pipe(
        Scope.provide(scope),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      const session: Session = { connection: connection.pinned, lost: Deferred.makeUnsafe<void>(), scope }
      // PostgreSQL 14+: the server ends the session (and frees its locks) once this node has gone silent. Older
      // servers refuse the setting; their sessions then end only when TCP gives up on a silent node.
      yield* query(session, `SET idle_session_timeout = ${idleSessionTimeoutMs}`, [], false).pipe(Effect.ignore)
      yield* Effect.forkIn(heartbeat(session), scope)
      yield* Effect.forkIn(
        Queue.take(connection.watch).pipe(
          Effect.forever,
          Effect.catch((error) => lose(session, error.message))
        ),
        scope
      )
      if (unreachable) yield* Effect.logInfo("lease: the database is reachable again")
      unreachable = false
      current = session
      return session
    })

    const session = Semaphore.withPermit(
      opening,
      Effect.suspend(() =>
        current !== undefined && !Deferred.isDoneUnsafe(current.lost) ? Effect.succeed(current) : open
      )
    )

    const register = (name: string) =>
      Effect.gen(function* () {
        const found = entries.get(name)
        if (found !== undefined) return found
        const entry: Entry = { held: false, since: undefined, gauge: heldGauge(name), handover: undefined }
        entries.set(name, entry)
        yield* Metric.update(entry.gauge, 0)
        return entry
      })

    const setHeld = (entry: Entry, held: boolean) =>
      Effect.gen(function* () {
        entry.held = held
        entry.since = held ? new Date(yield* Clock.currentTimeMillis) : undefined
        yield* Metric.update(entry.gauge, held ? 1 : 0)
      })

    /** Runs `work` while the lease is held on `session`; gives it up afterwards. */
    const hold = <E, R>(
      name: string,
      key: number,
      entry: Entry,
      session: Session,
      work: Effect.Effect<unknown, E, R>
    ): Effect.Effect<Turn, never, R> =>
      Effect.acquireUseRelease(
        Effect.gen(function* () {
          entry.handover = Deferred.makeUnsafe<void>()
          yield* setHeld(entry, true)
          yield* Effect.logInfo(`lease ${name} taken: running its work here`).pipe(Effect.annotateLogs("lease", name))
          return { takenAt: yield* Clock.currentTimeMillis, handover: entry.handover }
        }),
        ({ takenAt, handover }) =>
          Effect.raceAllFirst([
            Effect.exit(work).pipe(
              Effect.flatMap((exit) =>
                Effect.map(Clock.currentTimeMillis, (now): Turn => ({ _tag: "Ended", exit, heldMs: now - takenAt }))
              )
            ),
            Deferred.await(session.lost).pipe(
              // Told at once, before waiting for the work to stop.
              Effect.tap(() =>
                Effect.andThen(
                  setHeld(entry, false),
                  closed
                    ? Effect.void
                    : Effect.logWarning(`lease ${name} lost with the database session: its work is stopped`).pipe(
                        Effect.annotateLogs("lease", name)
                      )
                )
              ),
              Effect.as<Turn>({ _tag: "Lost" })
            ),
            Deferred.await(handover).pipe(Effect.as<Turn>({ _tag: "HandedOver" }))
          ]),
        (_, exit) =>
          Effect.gen(function* () {
            entry.handover = undefined
            if (Deferred.isDoneUnsafe(session.lost)) return yield* setHeld(entry, false)
            yield* query(session, "SELECT pg_advisory_unlock($1::int, $2::int)", [keyspace, key]).pipe(Effect.ignore)
            yield* setHeld(entry, false)
            const handedOver = Exit.isSuccess(exit) && exit.value._tag === "HandedOver"
            if (Exit.hasInterrupts(exit) || handedOver) {
              yield* Effect.logInfo(`lease ${name} released${handedOver ? " for another node (balancing)" : ""}`).pipe(
                Effect.annotateLogs("lease", name)
              )
            }
          })
      )

    const openSession = Effect.gen(function* () {
      const opened = yield* Effect.exit(session)
      if (Exit.isSuccess(opened)) return opened.value
      if (!unreachable) {
        unreachable = true
        yield* Effect.logWarning(
          `lease: cannot open a database session; retrying every ${Duration.format(interval)}`,
          Cause.squash(opened.cause)
        )
      }
      return undefined
    })

    const turn = <E, R>(name: string, key: number, entry: Entry, work: Effect.Effect<unknown, E, R>, gate: Gate) =>
      Effect.gen(function* () {
        if (closed) return yield* Effect.interrupt
        const opened = yield* openSession
        if (opened === undefined) return { _tag: "Unavailable" } as Turn
        if (!gate(opened)) return { _tag: "Busy" } as Turn
        const rows = yield* Effect.exit(
          query(opened, "SELECT pg_try_advisory_lock($1::int, $2::int) AS got", [keyspace, key])
        )
        if (Exit.isFailure(rows)) return { _tag: "Unavailable" } as Turn
        if (!isTrue(rows.value[0]?.got)) return { _tag: "Busy" } as Turn
        return yield* hold(name, key, entry, opened, work)
      })

    /** Competes for the lease `name` for ever, running `work` while held; `gate` may hold this process back. */
    const compete = <E, R>(
      name: string,
      work: Effect.Effect<unknown, E, R>,
      gate: Gate = () => true
    ): Effect.Effect<never, never, R> =>
      Effect.gen(function* () {
        const key = keyOf(name)
        const entry = yield* register(name)
        let failures = 0
        while (true) {
          const outcome = yield* turn(name, key, entry, work, gate)
          if (outcome._tag !== "Ended") {
            if (outcome._tag === "Lost") failures = 0
            // Handed over: wait longer, so that another node takes it first.
            yield* Effect.sleep(outcome._tag === "HandedOver" ? Duration.times(interval, 3) : interval)
            continue
          }
          // A run that held for a while before failing starts the pauses over.
          if (outcome.heldMs > 60_000) failures = 0
          if (Exit.isSuccess(outcome.exit)) {
            yield* Effect.logInfo(`lease ${name}: its work ended; released`).pipe(Effect.annotateLogs("lease", name))
            yield* Effect.sleep(interval)
            continue
          }
          failures++
          const pause = Duration.millis(Math.min(30_000, intervalMs * 2 ** Math.min(failures - 1, 8)))
          yield* Effect.logError(
            `lease ${name}: its work failed; released, competing again in ${Duration.format(pause)}`,
            outcome.exit.cause
          ).pipe(Effect.annotateLogs("lease", name))
          yield* Effect.sleep(pause)
        }
      })

    const run = <E, R>(name: string, work: Effect.Effect<unknown, E, R>) => compete(name, work)

    /**
     * The partitions of `group`: this process is a member of the group (a
     * shared advisory lock every member holds, so `pg_locks` counts them)
     * while it competes for each partition's lease. Every interval it reads
     * from `pg_locks` how many partitions each member holds; it takes a free
     * partition only while it holds no more than the least loaded other
     * member, and hands one over when it holds two more than that member.
     */
    const runPartitioned = <E, R>(
      group: string,
      partitions: number,
      work: (partition: number) => Effect.Effect<unknown, E, R>
    ): Effect.Effect<never, never, R> =>
      Effect.gen(function* () {
        const groupKey = keyOf(group)
        const names = Array.from({ length: partitions }, (_, partition) => partitionName(group, partitions, partition))
        const slots = yield* Effect.forEach(names, register)
        const leaseKeys = names.map((name) => keyOf(name) >>> 0)
        // The session the membership is held on, the least any other member held at the last count, and for how
        // many counts in a row each partition has been free.
        let member: Session | undefined
        let leastOfOthers = Number.POSITIVE_INFINITY
        const freeFor = names.map(() => 0)
        // Done at the first count: the partitions compete from then on (the gate refuses them before).
        const counted = Deferred.makeUnsafe<void>()
        const heldHere = () => slots.filter((entry) => entry.held).length

        const balance = Effect.gen(function* () {
          const opened = yield* openSession
          if (opened === undefined) return
          if (member !== opened) {
            const joined = yield* Effect.exit(
              query(opened, "SELECT pg_try_advisory_lock_shared($1::int, $2::int) AS got", [memberKeyspace, groupKey])
            )
            if (Exit.isFailure(joined) || !isTrue(joined.value[0]?.got)) return
            member = opened
          }
          // Keys are integers of ours, written into the statement.
          const rows = yield* Effect.exit(
            query(
              opened,
              `SELECT pid, classid::bigint AS classid, objid::bigint AS objid FROM pg_locks
               WHERE locktype = 'advisory' AND granted AND objsubid = 2
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND ((classid::bigint = ${memberKeyspace} AND objid::bigint = ${groupKey >>> 0})
                   OR (classid::bigint = ${keyspace} AND objid::bigint IN (${leaseKeys.join(", ")})))`,
              []
            )
          )
          if (Exit.isFailure(rows)) return
          const held = new Map<number, number>()
          const taken = new Set<number>()
          for (const row of rows.value) {
            const isMember = Number(row.classid) === memberKeyspace
            if (!isMember) taken.add(Number(row.objid))
            const pid = Number(row.pid)
            if (pid === opened.connection.processId) continue
            held.set(pid, (held.get(pid) ?? 0) + (isMember ? 0 : 1))
          }
          leastOfOthers = held.size === 0 ? Number.POSITIVE_INFINITY : Math.min(...held.values())
          for (const [partition, key] of leaseKeys.entries()) {
            freeFor[partition] = taken.has(key) ? 0 : (freeFor[partition] ?? 0) + 1
          }
          yield* Deferred.succeed(counted, undefined)
          // One at a time: the others see the change at their next count.
          if (heldHere() > leastOfOthers + 1) {
            const last = slots.findLast((entry) => entry.held && entry.handover !== undefined)
            if (last?.handover !== undefined) yield* Deferred.succeed(last.handover, undefined)
          }
        })

        // Take a partition only as a member, and only while no other member holds fewer — unless it has stayed free
        // for three counts (the member that should take it does not: stuck, or leaving).
        const gate =
          (partition: number): Gate =>
          (opened) =>
            member === opened && (heldHere() <= leastOfOthers || (freeFor[partition] ?? 0) >= 3)

        // Leaving (shut down): the others must not count this process as a member that takes nothing.
        const leave = Effect.suspend(() =>
          member === undefined || Deferred.isDoneUnsafe(member.lost)
            ? Effect.void
            : query(member, "SELECT pg_advisory_unlock_shared($1::int, $2::int)", [memberKeyspace, groupKey])
        ).pipe(Effect.ignore)

        yield* Effect.forkChild(Effect.forever(Effect.andThen(balance, Effect.sleep(interval))))
        const competing = Effect.forEach(names, (name, partition) => compete(name, work(partition), gate(partition)), {
          concurrency: "unbounded",
          discard: true
        })
        return yield* Deferred.await(counted).pipe(
          Effect.andThen(competing),
          Effect.andThen(Effect.never),
          Effect.ensuring(leave)
        )
      })

    const status = Effect.sync(() =>
      [...entries]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, entry]): LeaseStatus => ({ name, held: entry.held, since: entry.since }))
    )

    return Lease.of({ run, runPartitioned, status })
  })
)
