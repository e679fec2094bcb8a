/**
 * `pnpm inspect` in-process on a test database: streams written by the real
 * actor runtime (which snapshots every 3 events here), folded by the script
 * with and without a snapshot, and with snapshots that are stale or wrong.
 */
import { randomUUID } from "node:crypto"
import { ActorRuntime, InProcessActorRuntime } from "@agora/actors"
import { EmailClaim, Money, PaymentAccount } from "@agora/domain"
import { PgEventStore, SnapshotStore } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, layer } from "@effect/vitest"
import { DateTime, Effect, Layer, Option } from "effect"
import * as Cli from "../../src/scripts/Cli.ts"
import * as Inspect from "../../src/scripts/Inspect.ts"
import * as Output from "../../src/scripts/Output.ts"

const at = DateTime.makeUnsafe("2026-11-23T12:00:00.000Z")

/** Runs `pnpm inspect <argv>` in-process: its exit code and what it wrote. */
const inspect = (...argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { written, layer: output } = Output.capture()
    const code = yield* Cli.execute(Inspect.script, argv, (run) => run).pipe(Effect.provide(output))
    return { code, out: written.out, err: written.err }
  })

/** An account opened and topped up `topUps` times (1 + topUps events), through the actor runtime. */
const account = (topUps: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const actors = yield* ActorRuntime
    const userId = randomUUID()
    const send = (command: PaymentAccount.PaymentAccountCommand) =>
      actors.send(PaymentAccount.PaymentAccount, userId, command)
    yield* send(new PaymentAccount.OpenAccount({ userId, currency: "RUB", at }))
    for (const amount of topUps) {
      yield* send(new PaymentAccount.TopUpAccount({ userId, txId: randomUUID(), amount: Money.make(amount), at }))
    }
    return userId
  })

interface AccountJson {
  readonly stream_id: string
  readonly aggregate: string
  readonly version: number
  readonly events: ReadonlyArray<{ readonly version: number; readonly position: number; readonly type: string }>
  readonly snapshot: {
    readonly version: number
    readonly state_version: number
    readonly code_state_version: number
    readonly stale: boolean
    readonly check: string
    readonly later_events: number
  } | null
  readonly state: { readonly _tag: string; readonly balance: number; readonly toppedUp: number } | null
  readonly problems: ReadonlyArray<string>
}

const Stack = InProcessActorRuntime.layer({ snapshotEvery: 3 }).pipe(
  Layer.provideMerge(PgEventStore.layer()),
  Layer.provideMerge(TestDatabase.layer("scripts_inspect")),
  Layer.orDie
)

describe("pnpm inspect", () => {
  layer(Stack, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("folds a stream without a snapshot and prints its events, the snapshot's absence and the state", () =>
      Effect.gen(function* () {
        const userId = yield* account([10_000])
        const { code, out } = yield* inspect(`account-${userId}`)
        assert.strictEqual(code, 0)
        const lines = out.split("\n")
        assert.strictEqual(lines[0], `Stream    account-${userId} (payment account), version 2`)
        assert.match(lines[2]!, /^ {2}v1 {2}#\d+ {2}\d{4}-\d\d-\d\dT.*Z {2}AccountOpened {2}\{/)
        assert.match(lines[3]!, /^ {2}v2 {2}#\d+ .* AccountToppedUp {2}\{.*"amount":10000/)
        assert.include(out, "Snapshot  none")
        assert.include(out, '"balance": 10000')
      })
    )

    it.effect("--json: the events in order and the folded state, with no snapshot", () =>
      Effect.gen(function* () {
        // Two events: below the runtime's snapshot interval (3).
        const userId = yield* account([3_000])
        const { code, out } = yield* inspect("account", userId, "--json")
        assert.strictEqual(code, 0)
        const report = JSON.parse(out) as AccountJson
        assert.strictEqual(report.stream_id, `account-${userId}`)
        assert.strictEqual(report.aggregate, "payment account")
        assert.strictEqual(report.version, 2)
        assert.deepStrictEqual(
          report.events.map((e) => [e.version, e.type]),
          [
            [1, "AccountOpened"],
            [2, "AccountToppedUp"]
          ]
        )
        assert.isTrue(report.events[0]!.position < report.events[1]!.position)
        assert.strictEqual(report.snapshot, null)
        assert.strictEqual(report.state?._tag, "Account")
        assert.strictEqual(report.state?.balance, 3_000)
        assert.deepStrictEqual(report.problems, [])
      })
    )

    it.effect("with the runtime's snapshot: snapshot + later events fold to the same state", () =>
      Effect.gen(function* () {
        const userId = yield* account([100, 200, 300, 400])
        const stored = yield* (yield* SnapshotStore).load(`account-${userId}`)
        assert.isTrue(Option.isSome(stored), "the runtime snapshots every 3 events")
        const snapshotVersion = Option.getOrThrow(stored).version
        const { code, out } = yield* inspect(`account-${userId}`, "--json")
        assert.strictEqual(code, 0)
        const report = JSON.parse(out) as AccountJson
        assert.strictEqual(report.version, 5)
        assert.deepStrictEqual(report.snapshot, {
          version: snapshotVersion,
          state_version: PaymentAccount.PaymentAccount.stateVersion,
          code_state_version: PaymentAccount.PaymentAccount.stateVersion,
          stale: false,
          check: "consistent",
          later_events: 5 - snapshotVersion
        })
        assert.strictEqual(report.state?.balance, 1_000)
        const text = yield* inspect(`account-${userId}`)
        assert.include(
          text.out,
          `Snapshot  v${snapshotVersion}, state version 2 (current); snapshot + ${5 - snapshotVersion} later events folds to the same state: OK`
        )
      })
    )

    it.effect("a snapshot that disagrees with the events is a problem (exit 3)", () =>
      Effect.gen(function* () {
        const userId = yield* account([100, 200, 300, 400])
        const snapshots = yield* SnapshotStore
        const good = Option.getOrThrow(yield* snapshots.load(`account-${userId}`))
        const data = good.data as Record<string, unknown>
        // A newer snapshot (it replaces the runtime's) whose balance the events never gave.
        yield* snapshots.save({ ...good, version: 4, data: { ...data, balance: 999_999 } })
        const { code, out } = yield* inspect(`account-${userId}`, "--json")
        assert.strictEqual(code, 3)
        const report = JSON.parse(out) as AccountJson
        assert.strictEqual(report.snapshot?.check, "inconsistent")
        assert.strictEqual(report.state?.balance, 1_000, "the state is folded from the events, not the snapshot")
        assert.strictEqual(report.problems.length, 1)
        assert.include(report.problems[0]!, "folds to another state")
      })
    )

    it.effect("a snapshot of an older state version is stale: reported, not checked, not a problem", () =>
      Effect.gen(function* () {
        const userId = yield* account([100])
        yield* (yield* SnapshotStore).save({
          streamId: `account-${userId}`,
          version: 2,
          schemaVersion: 1,
          data: { ledger: [] }
        })
        const { code, out } = yield* inspect(`account-${userId}`, "--json")
        assert.strictEqual(code, 0)
        const report = JSON.parse(out) as AccountJson
        assert.deepStrictEqual(report.snapshot, {
          version: 2,
          state_version: 1,
          code_state_version: 2,
          stale: true,
          check: "stale",
          later_events: 0
        })
        assert.strictEqual(report.state?.balance, 100)
        const text = yield* inspect(`account-${userId}`)
        assert.include(text.out, "STALE, the code is at state version 2")
      })
    )

    it.effect("--last N shows the last N events and still folds them all", () =>
      Effect.gen(function* () {
        const userId = yield* account([1, 2, 3, 4, 5])
        const { out } = yield* inspect(`account-${userId}`, "--json", "--last", "2")
        const report = JSON.parse(out) as AccountJson
        assert.deepStrictEqual(
          report.events.map((e) => e.version),
          [5, 6]
        )
        assert.strictEqual(report.state?.balance, 15)
      })
    )

    it.effect("TYPE ID: aliases, and an email claim found by the email as typed (it is normalised)", () =>
      Effect.gen(function* () {
        const actors = yield* ActorRuntime
        const userId = randomUUID()
        const email = `ann-${userId.slice(0, 8)}@x.test`
        yield* actors.send(EmailClaim.EmailClaim, email, new EmailClaim.ClaimEmail({ email, userId, at }))
        const claim = yield* inspect("email-claim", ` ${email.toUpperCase()}`, "--json")
        assert.strictEqual(claim.code, 0)
        const report = JSON.parse(claim.out) as { stream_id: string; state: { _tag: string; userId: string } }
        assert.strictEqual(report.stream_id, `email-${email}`)
        assert.deepStrictEqual([report.state._tag, report.state.userId], ["Claimed", userId])

        const accountId = yield* account([5])
        const wallet = yield* inspect("payment-account", accountId, "--json")
        assert.strictEqual((JSON.parse(wallet.out) as AccountJson).stream_id, `account-${accountId}`)
      })
    )

    it.effect("an unknown stream type or an empty stream: a clear message and exit 1; bad arguments: exit 2", () =>
      Effect.gen(function* () {
        const unknown = yield* inspect("widget-123")
        assert.strictEqual(unknown.code, 1)
        assert.strictEqual(unknown.out, "")
        assert.include(unknown.err, 'Unknown stream type "widget"')
        assert.include(unknown.err, "order, account, payment")

        const empty = yield* inspect("order", randomUUID())
        assert.strictEqual(empty.code, 1)
        assert.match(empty.err, /^Stream order-[0-9a-f-]+ has no events\.\n$/)

        const noId = yield* inspect("order")
        assert.strictEqual(noId.code, 2)
        assert.include(noId.err, "Usage: pnpm inspect")

        const help = yield* inspect("--help")
        assert.strictEqual(help.code, 0)
        assert.include(help.out, "Usage: pnpm inspect")
      })
    )
  })
})
