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

    it.effect("reports each projection's position and its lag behind the log", () =>
      Effect.gen(function* () {
        const { token } = yield* signUp(`metrics-${randomUUID().slice(0, 8)}@example.com`)
        const opened = yield* call("POST", "/api/accounts", { token })
        assert.strictEqual(opened.status, 201)
        // A read with the write's position waits for the accounts projection, so it has applied the write.
        assert.strictEqual((yield* call("GET", "/api/accounts/me", { token })).status, 200)
        const { reply, samples } = yield* scrape
        assert.include(reply.body, "# TYPE agora_projection_lag_seconds histogram")
        for (const projection of ["orders", "accounts", "catalog"]) {
          const position = samples.find(
            (s) => s.name === "agora_projection_position" && s.labels.projection === projection
          )
          assert.isDefined(position, `agora_projection_position{projection="${projection}"}`)
          assert.isAbove(position!.value, 0)
        }
        const lagged = samples.find(
          (s) => s.name === "agora_projection_lag_seconds_count" && s.labels.projection === "accounts"
        )
        assert.isAbove(lagged?.value ?? 0, 0, "the accounts projection timed the events it applied")
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
