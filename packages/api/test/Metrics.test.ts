import { randomUUID } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { call, makeServer, signUp } from "./ApiHarness.ts"
import { scrape, total } from "./PrometheusText.ts"

layer(makeServer("api-metrics"), { excludeTestServices: true, timeout: "120 seconds" })(
  "GET /metrics over HTTP",
  (it) => {
    it.effect("serves the Prometheus text format with HELP and TYPE for each metric", () =>
      Effect.gen(function* () {
        // A request is recorded once answered: the first scrape is in the second.
        yield* scrape
        const { reply } = yield* scrape
        assert.strictEqual(reply.status, 200)
        assert.include(reply.contentType, "text/plain; version=0.0.4")
        assert.include(reply.body, "# TYPE agora_events_appended_total counter")
        assert.include(reply.body, "# TYPE agora_http_request_duration_seconds histogram")
      })
    )

    it.effect("counts the events a write appends, and the actor commands behind it", () =>
      Effect.gen(function* () {
        const before = (yield* scrape).samples
        const { token } = yield* signUp(`metrics-${randomUUID().slice(0, 8)}@example.com`)
        assert.strictEqual((yield* call("POST", "/api/accounts", { token })).status, 201)
        const after = (yield* scrape).samples
        // At least the registration and the account opening; projections may append too.
        const appended = total(after, "agora_events_appended_total") - total(before, "agora_events_appended_total")
        assert.isAtLeast(appended, 2)
        const commands = total(after, "agora_actor_commands_total") - total(before, "agora_actor_commands_total")
        assert.isAtLeast(commands, 2)
      })
    )

    it.effect("a failed write appends nothing", () =>
      Effect.gen(function* () {
        const email = `metrics-${randomUUID().slice(0, 8)}@example.com`
        yield* signUp(email)
        const before = total((yield* scrape).samples, "agora_events_appended_total")
        const again = yield* call("POST", "/api/auth/register", { json: { email, password: "correct horse battery" } })
        assert.strictEqual(again.status, 409)
        assert.strictEqual(total((yield* scrape).samples, "agora_events_appended_total"), before)
      })
    )
  }
)
