/**
 * Reading the observability settings: the log format's default follows
 * `NODE_ENV`, the level takes any case, and traces are exported only to a
 * configured collector, at OTLP's path for traces.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option } from "effect"
import * as Observability from "../src/Observability.ts"
import * as OtlpTracing from "../src/OtlpTracing.ts"

const env = (values: Record<string, string>) => ConfigProvider.fromUnknown(values)

describe("LOG_FORMAT and LOG_LEVEL", () => {
  it.effect("log JSON in production and pretty lines elsewhere, at info, unless told otherwise", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Observability.config.parse(env({})), { format: "pretty", level: "Info" })
      assert.deepStrictEqual(yield* Observability.config.parse(env({ NODE_ENV: "production" })), {
        format: "json",
        level: "Info"
      })
      assert.deepStrictEqual(
        yield* Observability.config.parse(env({ NODE_ENV: "production", LOG_FORMAT: "pretty", LOG_LEVEL: "DEBUG" })),
        { format: "pretty", level: "Debug" }
      )
      assert.strictEqual((yield* Observability.config.parse(env({ LOG_LEVEL: "warning" }))).level, "Warn")
    })
  )

  it.effect("refuse a format or level they do not know", () =>
    Effect.gen(function* () {
      for (const values of [{ LOG_FORMAT: "xml" }, { LOG_LEVEL: "loud" }, { LOG_LEVEL: "toString" }]) {
        const parsed = yield* Effect.result(Observability.config.parse(env(values)))
        assert.strictEqual(parsed._tag, "Failure", JSON.stringify(values))
      }
    })
  )
})

describe("OTLP trace export", () => {
  it.effect("is off without an endpoint, or when the SDK is disabled", () =>
    Effect.gen(function* () {
      assert.isTrue(Option.isNone(yield* OtlpTracing.config.parse(env({}))))
      assert.isTrue(
        Option.isNone(
          yield* OtlpTracing.config.parse(
            env({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" })
          )
        )
      )
    })
  )

  it.effect("posts to the endpoint's /v1/traces, or to the traces endpoint as given", () =>
    Effect.gen(function* () {
      const base = yield* OtlpTracing.config.parse(env({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }))
      assert.isTrue(Option.isSome(base))
      if (Option.isSome(base)) {
        assert.strictEqual(base.value.url, "http://collector:4318/v1/traces")
        assert.strictEqual(base.value.protocol, "http/protobuf")
        assert.strictEqual(base.value.serviceName, "agora")
        assert.isTrue(Duration.equals(base.value.exportInterval, Duration.seconds(5)))
      }
      const traces = yield* OtlpTracing.config.parse(
        env({
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://traces:9999/custom",
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer x, tenant=a",
          OTEL_SERVICE_NAME: "agora-api"
        })
      )
      assert.isTrue(Option.isSome(traces))
      if (Option.isSome(traces)) {
        assert.strictEqual(traces.value.url, "http://traces:9999/custom")
        assert.strictEqual(traces.value.protocol, "http/json")
        assert.deepStrictEqual(traces.value.headers, { authorization: "Bearer x", tenant: "a" })
        assert.strictEqual(traces.value.serviceName, "agora-api")
      }
    })
  )
})
