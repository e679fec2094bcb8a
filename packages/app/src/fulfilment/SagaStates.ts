/**
 * `agora_saga_states{status}`: how many sagas stand at each stage, over the
 * sagas of every process, read from the log rather than counted where they
 * move (a process's own transitions would miss the others' and forget
 * everything at a restart).
 *
 * A saga's stage is a function of the type of its last stage-changing event,
 * so the fulfilment events' types are all it needs: every few seconds it reads
 * the ones committed since its last pass (a range of the log by position, which
 * is commit order: nothing is skipped), keeps the stage of each saga still in
 * flight and a count of the finished ones. The first pass reads every
 * fulfilment event once; memory holds only the sagas in flight.
 */
import { Fulfilment } from "@agora/domain"
import { type Duration, Effect, Metric, Schedule } from "effect"
import { SqlClient } from "effect/sql"

/** The stage each stage-changing fulfilment event leaves its saga in (the others leave it where it was). */
export const stageAfter: Readonly<Partial<Record<Fulfilment.FulfilmentEvent["_tag"], Fulfilment.Stage>>> = {
  FulfilmentStarted: "reserving",
  StockSecured: "paying",
  PaymentRequested: "awaiting_payment",
  PaymentCaptured: "requesting_shipment",
  ShipmentRequested: "awaiting_shipment",
  CarrierShipped: "recording_shipment",
  FulfilmentShipped: "shipped",
  CancellationStarted: "cancelling",
  FulfilmentCancelled: "cancelled"
}

const finished: ReadonlySet<Fulfilment.Stage> = new Set(["shipped", "cancelled"])

/** The sagas by stage, fed with fulfilment events in log order. */
export interface Tally {
  /** Takes one event of the stream `fulfilment-<orderId>` into account. */
  readonly apply: (streamId: string, eventType: string) => void
  readonly counts: () => Readonly<Record<Fulfilment.Stage, number>>
}

export const makeTally = (): Tally => {
  const inFlight = new Map<string, Fulfilment.Stage>()
  const done: Record<string, number> = { shipped: 0, cancelled: 0 }
  return {
    apply: (streamId, eventType) => {
      const stage = stageAfter[eventType as Fulfilment.FulfilmentEvent["_tag"]]
      if (stage === undefined) return
      if (finished.has(stage)) {
        // A saga finishes once (its decider records no second end).
        inFlight.delete(streamId)
        done[stage] = (done[stage] ?? 0) + 1
      } else {
        inFlight.set(streamId, stage)
      }
    },
    counts: () => {
      const counts = Object.fromEntries(Fulfilment.Stage.literals.map((stage) => [stage, done[stage] ?? 0])) as Record<
        Fulfilment.Stage,
        number
      >
      for (const stage of inFlight.values()) counts[stage]++
      return counts
    }
  }
}

const gauges = Object.fromEntries(
  Fulfilment.Stage.literals.map((status) => [
    status,
    Metric.gauge("agora_saga_states", {
      description: "Order fulfilment sagas by stage (status), over every process's sagas",
      attributes: { status }
    })
  ])
) as Record<Fulfilment.Stage, Metric.Metric<number, unknown>>

const page = 10_000

/** The reporter's lease: one process at a time reports the gauge (each would report the same counts). */
export const leaseName = "gauge:agora_saga_states"

/**
 * Keeps `agora_saga_states` current, reading the log every `every` for as
 * long as it runs; a failed pass is tried again at the next one. When it
 * stops, the gauge reads 0 in this process.
 */
export const report = (every: Duration.Input) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const tally = makeTally()
    let after = 0
    const pass = Effect.gen(function* () {
      while (true) {
        const rows = yield* sql<{
          readonly position: string | number
          readonly stream_id: string
          readonly event_type: string
        }>`
          SELECT position, stream_id, event_type FROM events
          WHERE position > ${after} AND stream_type = ${Fulfilment.Fulfilment.type}
          ORDER BY position LIMIT ${page}`
        for (const row of rows) tally.apply(row.stream_id, row.event_type)
        const last = rows.at(-1)
        if (last !== undefined) after = Number(last.position)
        if (rows.length < page) break
      }
      const counts = tally.counts()
      for (const stage of Fulfilment.Stage.literals) yield* Metric.update(gauges[stage], counts[stage])
    })
    yield* pass.pipe(Effect.ignore, Effect.repeat(Schedule.spaced(every)))
  }).pipe(
    // Stopped (its lease gone to another process, which reports now): 0 here, so that a sum over processes
    // counts each saga once.
    Effect.ensuring(Effect.forEach(Fulfilment.Stage.literals, (stage) => Metric.update(gauges[stage], 0))),
    // A poll, not work to follow in traces.
    Effect.withTracerEnabled(false)
  )
