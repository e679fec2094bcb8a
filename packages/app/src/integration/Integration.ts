/**
 * The integration with the outside world over the broker, for the layer's
 * lifetime: the outbox (table, trigger) and its relay, the backlog metric,
 * and the shipping inbox. Needs the broker, the database and the saga
 * coordinator.
 *
 * The relay, its redelivery pass and the backlog gauge run in one process at
 * a time across the nodes, each under its lease; the shipping inbox runs in
 * every process with this layer (a consumer group: the broker shares the
 * messages out, and the inbox table dedupes them).
 */
import type { Broker } from "@agora/broker"
import { Lease } from "@agora/eventstore"
import { Effect, Layer, Schedule } from "effect"
import type { SqlClient } from "effect/sql"
import type { FulfilmentSaga } from "../fulfilment/FulfilmentSaga.ts"
import * as Outbox from "./Outbox.ts"
import * as OutboxRelay from "./OutboxRelay.ts"
import * as ShippingInbox from "./ShippingInbox.ts"

export const layer: Layer.Layer<never, unknown, Broker | SqlClient.SqlClient | FulfilmentSaga | Lease.Lease> =
  Layer.effectDiscard(
    Effect.gen(function* () {
      const lease = yield* Lease.Lease
      yield* Outbox.migrate
      yield* ShippingInbox.migrate
      yield* Effect.forkScoped(lease.run(OutboxRelay.leaseName, OutboxRelay.run))
      yield* Effect.forkScoped(lease.run(OutboxRelay.redeliveryLeaseName, OutboxRelay.runRedelivery))
      yield* Effect.forkScoped(lease.run(Outbox.backlogLeaseName, Outbox.reportBacklog("2 seconds")))
      // Subscribed in the background, so a broker that is down at start delays the inbox, not the server.
      yield* Effect.forkScoped(
        Effect.scoped(
          ShippingInbox.run.pipe(
            Effect.tapCause((cause) => Effect.logWarning("shipping inbox: cannot subscribe yet; retrying", cause)),
            Effect.retry(Schedule.spaced("2 seconds")),
            Effect.andThen(Effect.never)
          )
        )
      )
    })
  )

/**
 * The outbox's table and trigger alone, for a process that appends events but
 * leaves relaying them to another (`ROLE=api`): the trigger must exist before
 * the first event it would have to copy, whoever starts first.
 */
export const schema: Layer.Layer<never, unknown, SqlClient.SqlClient> = Layer.effectDiscard(Outbox.migrate)
