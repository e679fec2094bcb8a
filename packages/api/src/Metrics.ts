/**
 * `GET /metrics`: every Effect metric of the process in the Prometheus text
 * format (`text/plain; version=0.0.4`), for a scraper. The metrics are those
 * of the default registry, which every module updates: the HTTP edge
 * (`http/HttpMetrics.ts`), the event store, the actor runtime.
 *
 * Public like the health routes, and like them never rate limited (a scraper
 * must not be throttled into a gap); it tells request counts and latencies,
 * nothing about users.
 */
import { PrometheusMetrics } from "effect/observability"

/** Where the metrics are served. */
export const path = "/metrics"

/** The route. */
export const layer = PrometheusMetrics.layerHttp({ path })
