/**
 * The cluster actor runtime on one runner over PostgreSQL, through the port:
 * it behaves as the in-process runtime does (serialised commands, typed domain
 * errors, conflicts, idempotent command ids, state), with every command sent
 * through the cluster's messaging and encoded and decoded as between two nodes
 * (no owner shortcut, `simulateRemoteSerialization`). Then, as production runs
 * it, what it costs over the in-process runtime. Several nodes as processes:
 * `ClusterNodes.test.ts`.
 */
import { randomUUID } from "node:crypto"
import { EmailClaim, fold, Money, normaliseEmail, PaymentAccount, User } from "@agora/domain"
import { EventStore, ExpectedVersion, PgEventStore, SnapshotStore, Uuid } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option } from "effect"
import {
  ActorRuntime,
  ClusterActorRuntime,
  InProcessActorRuntime,
  KeyedRequest,
  keyedRequest,
  part,
  WrittenPosition
} from "../src/index.ts"
import { Counter, type CounterEvent, Incremented, increment, OverLimit } from "./fixtures/Counter.ts"
import { freePort } from "./support/FreePort.ts"

const at = DateTime.makeUnsafe("2026-11-23T12:00:00.000Z")

const options: ClusterActorRuntime.Options = {
  aggregates: [Counter, ...ClusterActorRuntime.domainAggregates],
  // Every command through the cluster's messaging, as from another node.
  ownerShortcut: false,
  maxAttempts: 1,
  snapshotEvery: 10,
  idleTimeout: "300 millis"
}

/** One runner on a free port and a fresh database, with the event store beside it. */
const singleRunner = (
  label: string,
  runtimeOptions: ClusterActorRuntime.Options,
  simulateRemoteSerialization: boolean
) =>
  Layer.unwrap(
    Effect.map(Effect.promise(freePort), (port) =>
      ClusterActorRuntime.layer(runtimeOptions).pipe(
        Layer.provide(
          ClusterActorRuntime.layerSharding(
            {
              runnerHost: "127.0.0.1",
              runnerPort: port,
              listenHost: Option.none(),
              shardsPerGroup: 30,
              shardLockExpiration: Duration.seconds(5)
            },
            { simulateRemoteSerialization }
          )
        ),
        Layer.provideMerge(PgEventStore.layer()),
        Layer.provideMerge(TestDatabase.layer(label, { maxConnections: 20 }))
      )
    )
  ).pipe(Layer.orDie)

const storedCount = (id: string) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.map(store.readStream(`counter-${id}`), (events) =>
      fold(
        Counter,
        Counter.initialState,
        events.map((e) => ({ ...(e.data as object), _tag: e.type }) as CounterEvent)
      )
    )
  )

/**
 * N sends through the cluster runtime in context and through an in-process
 * runtime beside it, printed. The cluster gives a routed command an id (see
 * the module), so the in-process runtime with ids shows that part.
 */
const overhead = (label: string) =>
  Effect.gen(function* () {
    const cluster = yield* ActorRuntime
    const inProcess = yield* InProcessActorRuntime.make()
    const variants = [
      { name: "in process", runtime: inProcess, withId: false },
      { name: "in process with command ids", runtime: inProcess, withId: true },
      { name: "cluster", runtime: cluster, withId: false }
    ].map((variant) => ({
      ...variant,
      // Each its own counters: two writers on one stream would only measure their conflicts.
      ids: Array.from({ length: 16 }, () => randomUUID()),
      rates: new Map<number, Array<number>>()
    }))
    const time = (variant: (typeof variants)[number], n: number, concurrency: number) =>
      Effect.gen(function* () {
        const started = performance.now()
        yield* Effect.forEach(
          Array.from({ length: n }, (_, i) => variant.ids[i % variant.ids.length]!),
          (id) => variant.runtime.send(Counter, id, increment(), variant.withId ? { commandId: randomUUID() } : {}),
          { concurrency, discard: true }
        )
        return Math.round((n / (performance.now() - started)) * 1000)
      })
    // Warm up (activations, JIT), then alternate the variants, three rounds each.
    for (const variant of variants) yield* time(variant, 200, 16)
    for (const concurrency of [1, 16]) {
      for (let round = 0; round < 3; round++) {
        for (const variant of variants) {
          const rate = yield* time(variant, concurrency === 1 ? 150 : 500, concurrency)
          variant.rates.set(concurrency, [...(variant.rates.get(concurrency) ?? []), rate])
        }
      }
    }
    const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    for (const concurrency of [1, 16]) {
      const line = variants.map((v) => `${v.name} ${median(v.rates.get(concurrency) ?? [])}/s`).join(", ")
      yield* Effect.sync(() =>
        console.log(`overhead (${label}), 16 counters, ${concurrency} in flight, median of 3 runs: ${line}`)
      )
    }
    // Every counter of the cluster's variant has its cell on this, its only, node.
    assert.isAtLeast(yield* cluster.residentCount, 16)
  })

layer(singleRunner("cluster-actors", options, true), { excludeTestServices: true, timeout: "60 seconds" })(
  "ClusterActorRuntime on one runner, its messages encoded as between nodes",
  (it) => {
    it.effect("1,000 concurrent commands to one actor run one at a time, with no conflict surfaced", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const id = randomUUID()
        const results = yield* Effect.forEach(
          Array.from({ length: 1000 }),
          () => runtime.send(Counter, id, increment()),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(
          results.map((r) => r.version).sort((a, b) => a - b),
          Array.from({ length: 1000 }, (_, i) => i + 1)
        )
        assert.strictEqual((yield* runtime.state(Counter, id)).state.count, 1000)
        assert.strictEqual((yield* storedCount(id)).count, 1000)
      })
    )

    it.effect("a rejected command comes back as the domain's typed error, and writes nothing", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const store = yield* EventStore
        const id = randomUUID()
        yield* runtime.send(Counter, id, { _tag: "SetLimit", limit: 2 })
        const applied = yield* runtime.send(Counter, id, increment(2))
        assert.isNumber(applied.position)
        assert.instanceOf(applied.events[0], Incremented)
        const error = yield* runtime.send(Counter, id, increment()).pipe(Effect.flip)
        assert.instanceOf(error, OverLimit)
        assert.deepInclude(error, { _tag: "OverLimit", count: 2, limit: 2 })
        assert.strictEqual(yield* store.streamVersion(`counter-${id}`), 2)
        const unchanged = yield* runtime.send(Counter, id, { _tag: "SetLimit", limit: 2 })
        assert.deepStrictEqual([unchanged.events.length, unchanged.version, unchanged.position], [0, 2, undefined])
      })
    )

    it.effect("an actor that loses the race to another writer fails with a typed ConcurrencyConflict", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const store = yield* EventStore
        const id = randomUUID()
        yield* runtime.send(Counter, id, increment())
        yield* store.append(`counter-${id}`, ExpectedVersion.exact(1), [
          { eventId: Uuid.v7(), type: "Incremented", data: { by: 10 } }
        ])
        const error = yield* runtime.send(Counter, id, increment()).pipe(Effect.flip)
        assert.strictEqual(error._tag, "ConcurrencyConflict")
        assert.deepInclude(error, { streamId: `counter-${id}`, attempts: 1 })
        const next = yield* runtime.send(Counter, id, increment())
        assert.deepStrictEqual([next.state.count, next.version], [12, 3])
      })
    )

    it.effect("a command sent again with its command id is applied once, also by another process", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const id = randomUUID()
        const commandId = randomUUID()
        const first = yield* runtime.send(Counter, id, increment(5), { commandId })
        const again = yield* runtime.send(Counter, id, increment(5), { commandId })
        // A process outside the cluster retrying it (say, after a crash) appends nothing either.
        const outsider = yield* InProcessActorRuntime.make()
        const retried = yield* outsider.send(Counter, id, increment(5), { commandId })
        assert.deepStrictEqual([first.version, again.version, retried.version], [1, 1, 1])
        assert.strictEqual(retried.state.count, 5)
        assert.strictEqual((yield* storedCount(id)).count, 5)
      })
    )

    it.effect("a keyed request's command ids are taken on the caller, and its writes noted there", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const id = randomUUID()
        const request = `test/${randomUUID()}`
        const unkeyed = Effect.gen(function* () {
          yield* runtime.send(Counter, id, increment(1))
          yield* runtime.send(Counter, id, increment(2))
        })
        const runKeyed = Effect.gen(function* () {
          const written = { position: undefined as number | undefined }
          const second = yield* Effect.gen(function* () {
            yield* runtime.send(Counter, id, increment(1))
            return yield* runtime.send(Counter, id, increment(2))
          }).pipe(
            Effect.provideService(KeyedRequest, keyedRequest(request)),
            Effect.provideService(WrittenPosition, written)
          )
          return { written, second }
        })
        const first = yield* runKeyed
        assert.strictEqual(first.written.position, first.second.position)
        assert.isDefined(first.written.position)
        // The same keyed request run again (its answer was lost) appends nothing.
        const replay = yield* runKeyed
        assert.strictEqual(replay.second.state.count, 3)
        assert.strictEqual((yield* storedCount(id)).count, 3)
        // Outside a keyed request, each command is new.
        yield* unkeyed
        assert.strictEqual((yield* storedCount(id)).count, 6)
      })
    )

    it.effect("correlation and causation ids travel with the command into the events' metadata", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const store = yield* EventStore
        const id = randomUUID()
        yield* runtime.send(Counter, id, increment(), { commandId: "cmd-1", correlationId: "req-1" })
        yield* runtime.send(Counter, id, increment(), { correlationId: "req-2", causationId: "evt-9" })
        const [first, second] = yield* store.readStream(`counter-${id}`)
        assert.deepStrictEqual(first?.metadata, { correlationId: "req-1", causationId: "cmd-1" })
        assert.deepStrictEqual(second?.metadata, { correlationId: "req-2", causationId: "evt-9" })
      })
    )

    it.effect("an idle actor leaves this node and comes back from its snapshot with the same state", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const snapshots = yield* SnapshotStore
        const id = randomUUID()
        yield* runtime.send(Counter, id, { _tag: "SetLimit", limit: 1000 })
        for (let i = 1; i <= 24; i++) yield* runtime.send(Counter, id, increment(i))
        const before = yield* runtime.state(Counter, id)
        assert.strictEqual(Option.getOrThrow(yield* snapshots.load(`counter-${id}`)).version, 20)
        yield* Effect.sleep("1500 millis")
        assert.strictEqual(yield* runtime.residentCount, 0)
        const after = yield* runtime.state(Counter, id)
        assert.deepStrictEqual(after, before)
        assert.deepStrictEqual(after, { state: { count: 300, limit: 1000 }, version: 25 })
      })
    )

    it.effect("domain aggregates: their commands, states and typed errors cross the wire", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const userId = randomUUID()
        const send = (command: PaymentAccount.PaymentAccountCommand) =>
          runtime.send(PaymentAccount.PaymentAccount, userId, command)
        yield* send(new PaymentAccount.OpenAccount({ userId, currency: "RUB", at }))
        const toppedUp = yield* send(
          new PaymentAccount.TopUpAccount({ userId, txId: randomUUID(), amount: Money.make(10_000), at })
        )
        assert.instanceOf(toppedUp.events[0], PaymentAccount.AccountToppedUp)
        assert.isTrue(DateTime.isDateTime(toppedUp.events[0]?.at))
        const refused = yield* send(
          new PaymentAccount.DebitAccount({
            userId,
            txId: randomUUID(),
            orderId: randomUUID(),
            amount: Money.make(1_000_000),
            at
          })
        ).pipe(Effect.flip)
        assert.instanceOf(refused, PaymentAccount.InsufficientFunds)
        const { state } = yield* runtime.state(PaymentAccount.PaymentAccount, userId)
        assert.strictEqual(state._tag === "Account" ? state.balance : -1, 10_000)
      })
    )

    it.effect("a command sent without its state answers its outcome, or its typed refusal, across the wire", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const userId = randomUUID()
        yield* runtime.send(
          PaymentAccount.PaymentAccount,
          userId,
          new PaymentAccount.OpenAccount({ userId, currency: "RUB", at })
        )
        const outcome = yield* runtime.sendWithoutState(
          PaymentAccount.PaymentAccount,
          userId,
          new PaymentAccount.TopUpAccount({ userId, txId: randomUUID(), amount: Money.make(5_000), at })
        )
        assert.instanceOf(outcome.events[0], PaymentAccount.AccountToppedUp)
        assert.strictEqual(outcome.version, 2)
        assert.isDefined(outcome.position)
        assert.notProperty(outcome, "state")
        const refused = yield* runtime
          .sendWithoutState(
            PaymentAccount.PaymentAccount,
            userId,
            new PaymentAccount.DebitAccount({
              userId,
              txId: randomUUID(),
              orderId: randomUUID(),
              amount: Money.make(1_000_000),
              at
            })
          )
          .pipe(Effect.flip)
        assert.instanceOf(refused, PaymentAccount.InsufficientFunds)
      })
    )

    it.effect("a state read from another node with acceptStale is kept, and answered again while it passes", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const id = randomUUID()
        yield* runtime.sendWithoutState(Counter, id, increment())
        const accept = (pass: boolean) => ({ acceptStale: () => pass })
        assert.strictEqual((yield* runtime.state(Counter, id, accept(true))).version, 1)
        yield* runtime.sendWithoutState(Counter, id, increment())
        // The copy passes: answered from it (version 1), without asking the owner.
        assert.strictEqual((yield* runtime.state(Counter, id, accept(true))).version, 1)
        // It does not, or no copy is accepted: the owner answers.
        assert.strictEqual((yield* runtime.state(Counter, id, accept(false))).version, 2)
        assert.strictEqual((yield* runtime.state(Counter, id)).version, 2)
      })
    )

    it.effect("a registration and its email claim commit together on the caller; a taken email is typed", () =>
      Effect.gen(function* () {
        const runtime = yield* ActorRuntime
        const email = `${randomUUID()}@example.com`
        const register = (userId: string) =>
          runtime.sendTogether([
            part(
              User.User,
              userId,
              new User.RegisterUser({ userId, email, passwordHash: "h", roles: ["customer"], at })
            ),
            part(EmailClaim.EmailClaim, normaliseEmail(email), new EmailClaim.ClaimEmail({ email, userId, at }))
          ])
        const first = randomUUID()
        const [user, claim] = yield* register(first)
        assert.deepStrictEqual([user.version, claim.version], [1, 1])
        const taken = yield* register(randomUUID()).pipe(Effect.flip)
        assert.strictEqual(taken._tag, "EmailTaken")
        // The owners answer with what the transaction wrote.
        const claimed = yield* runtime.state(EmailClaim.EmailClaim, normaliseEmail(email))
        assert.strictEqual(claimed.state._tag === "Claimed" ? claimed.state.userId : "", first)
        const registered = yield* runtime.send(
          User.User,
          first,
          new User.ChangeUserRoles({ userId: first, roles: ["admin"], at })
        )
        assert.strictEqual(registered.version, 2)
      })
    )
    it.effect("overhead of the routed path over the in-process runtime (printed, not asserted)", () =>
      overhead("every command routed and encoded")
    )
  }
)

// As the server runs it: a command for an instance this node owns runs on its cell directly.
layer(singleRunner("cluster-overhead", { aggregates: [Counter] }, false), {
  excludeTestServices: true,
  timeout: "60 seconds"
})("ClusterActorRuntime on one runner, as configured for production", (it) => {
  it.effect("overhead over the in-process runtime (printed, not asserted)", () => overhead("as in production"))
})
