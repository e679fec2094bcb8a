/**
 * The sagas-by-stage and outbox-backlog gauges are reported by one process at
 * a time (under a lease): a reporter that stops — its lease gone to another
 * process — leaves 0 behind, so that a sum over processes counts once.
 */

import { Fulfilment } from "@agora/domain"
import { EventStore, ExpectedVersion, PgEventStore, Uuid } from "@agora/eventstore"
import { TestDatabase } from "@agora/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Layer, Metric } from "effect"
import * as SagaStates from "../../src/fulfilment/SagaStates.ts"

// Handles on the same series the reporter updates (a metric is its name and attributes).
const stageGauge = (status: Fulfilment.Stage) =>
  Metric.gauge("agora_saga_states", {
    description: "Order fulfilment sagas by stage (status), over every process's sagas",
    attributes: { status }
  })
const total = Effect.map(
  Effect.forEach(Fulfilment.Stage.literals, (stage) => Metric.value(stageGauge(stage))),
  (states) => states.reduce((sum, state) => sum + Number(state.value), 0)
)

layer(PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer("saga-states-reporter")), Layer.orDie), {
  excludeTestServices: true
})("the sagas-by-stage reporter", (it) => {
  it.effect("counts while it runs, and leaves 0 behind when it stops", () =>
    Effect.gen(function* () {
      const store = yield* EventStore
      for (let i = 0; i < 3; i++) {
        yield* store.append(`${Fulfilment.Fulfilment.type}-${Uuid.v7()}`, ExpectedVersion.NoStream, [
          { eventId: Uuid.v7(), type: "FulfilmentStarted", data: {} }
        ])
      }
      const reporter = yield* Effect.forkChild(SagaStates.report("20 millis"))
      const deadline = Date.now() + 5_000
      while ((yield* total) !== 3 && Date.now() < deadline) yield* Effect.sleep("20 millis")
      assert.strictEqual(yield* total, 3)
      yield* Fiber.interrupt(reporter)
      assert.strictEqual(yield* total, 0)
    })
  )
})
