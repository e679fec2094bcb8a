/**
 * Traces exported over OTLP/HTTP, configured the OpenTelemetry way:
 *
 * - `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's base URL (traces go to
 *   `<endpoint>/v1/traces`), or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, the full
 *   URL; neither set (or `OTEL_SDK_DISABLED=true`): no traces;
 * - `OTEL_EXPORTER_OTLP_PROTOCOL` (or `…_TRACES_PROTOCOL`): `http/protobuf`
 *   (the default) or `http/json`;
 * - `OTEL_EXPORTER_OTLP_HEADERS` (or `…_TRACES_HEADERS`): `key=value,…`, for
 *   a collector that wants a token;
 * - `OTEL_BSP_SCHEDULE_DELAY`: milliseconds between exports (default 5000);
 * - `OTEL_SERVICE_NAME` (default `agora`), `OTEL_RESOURCE_ATTRIBUTES`; the
 *   resource's `service.version` is the server package's version.
 *
 * Spans still being batched when the server stops are flushed on the way out.
 */
import { Config, Duration, Layer, Option, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { type OtlpExporter, OtlpSerialization, OtlpTracer } from "effect/observability"
import packageJson from "../package.json" with { type: "json" }

export interface Settings {
  /** Where spans are posted. */
  readonly url: string
  readonly protocol: "http/protobuf" | "http/json"
  readonly headers: Readonly<Record<string, string>>
  readonly exportInterval: Duration.Duration
  readonly serviceName: string
}

const nonEmpty = (name: string) =>
  Config.option(Config.String(name)).pipe(Config.map(Option.filter((value) => value.trim() !== "")))

const Protocol = Schema.Literals(["http/protobuf", "http/json"])

/** The base endpoint with OTLP's path for traces appended. */
const tracesUrl = (base: string): string => `${base.replace(/\/+$/, "")}/v1/traces`

/** The settings, or none when traces are not to be exported. */
export const config: Config.Config<Option.Option<Settings>> = Config.all({
  disabled: Config.Boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false)),
  base: nonEmpty("OTEL_EXPORTER_OTLP_ENDPOINT"),
  traces: nonEmpty("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
  protocol: Config.schema(Protocol, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").pipe(
    Config.orElse(() => Config.schema(Protocol, "OTEL_EXPORTER_OTLP_PROTOCOL")),
    Config.withDefault("http/protobuf" as const)
  ),
  headers: Config.Record(Schema.String, Schema.String, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", { trim: true }).pipe(
    Config.orElse(() => Config.Record(Schema.String, Schema.String, "OTEL_EXPORTER_OTLP_HEADERS", { trim: true })),
    Config.withDefault({})
  ),
  delayMillis: Config.Int("OTEL_BSP_SCHEDULE_DELAY").pipe(Config.withDefault(5000)),
  serviceName: Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault("agora"))
}).pipe(
  Config.map(({ disabled, base, traces, protocol, headers, delayMillis, serviceName }) => {
    const url = Option.orElse(traces, () => Option.map(base, tracesUrl))
    if (disabled || Option.isNone(url)) return Option.none()
    return Option.some({
      url: url.value,
      protocol,
      headers,
      exportInterval: Duration.millis(Math.max(1, delayMillis)),
      serviceName
    })
  })
)

/** The OTLP tracer as the `Tracer` of whatever the layer is provided to. */
export const layer = (settings: Settings): Layer.Layer<OtlpExporter.Flusher> =>
  OtlpTracer.layer({
    url: settings.url,
    resource: { serviceName: settings.serviceName, serviceVersion: packageJson.version },
    headers: settings.headers,
    exportInterval: settings.exportInterval
  }).pipe(
    Layer.provide(settings.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf),
    Layer.provide(FetchHttpClient.layer)
  )
