/**
 * The hottest read, `GET /api/orders/{id}`, answered at the edge when it can
 * succeed: the caller's token is already verified (`Caller`), the order is
 * visible to them, and its JSON body is serialised once per order version.
 * That skips the generic endpoint machinery (security decoding, parameter
 * and response schemas), which costs more than the read itself.
 *
 * Only the success is answered here. Anything else — no or a bad token, an
 * unknown or foreign order, a query string, a failure — falls through to the
 * contract's route, which gives the documented problem. So the two paths can
 * only differ on a 200, and the route tests read both (`test/http/FastReads`).
 */
import { Orders } from "@agora/app"
import { Effect, Option } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { makeBodyCache } from "../OrderBodies.ts"
import { Caller } from "./Caller.ts"

const orderPath = /^\/api\/orders\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/

export const make = Effect.gen(function* () {
  const orders = yield* Orders.Orders
  const bodies = makeBodyCache(10_000)
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | Caller | HttpServerRequest.HttpServerRequest> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      if (request.method !== "GET") return app
      const id = orderPath.exec(request.url)?.[1]
      if (id === undefined) return app
      return Effect.flatMap(Caller, (caller) => {
        if (Option.isNone(caller.userId)) return app
        const viewer = { userId: caller.userId.value, admin: caller.roles.includes("admin") }
        return orders.get(id, viewer).pipe(
          Effect.map((order) => HttpServerResponse.text(bodies.json(order), { contentType: "application/json" })),
          Effect.catch(() => app)
        )
      })
    })
})
