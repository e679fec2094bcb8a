/**
 * Which routes exist, read from the API contract (plus the few routes served
 * outside it: health, readiness, metrics, the OpenAPI document, the docs).
 *
 * The router itself only says "no route"; this table tells the edge the rest:
 * a known path asked with the wrong method (405 with `Allow`), and the route
 * template a request matched (`POST /api/orders/:id/cancel`), which scopes its
 * idempotency key. It matches paths with the router's own matcher and
 * defaults, so both always agree on what a path is.
 */
import { Context, Layer } from "effect"
import { FindMyWay } from "effect/http"
import { HttpApi, type HttpApiGroup } from "effect/http-api"

/** A route outside the contract: `{ method: "GET", path: "/api/health" }`. */
export interface RouteSpec {
  readonly method: string
  readonly path: `/${string}`
}

/** What the table knows about a method and a URL. */
export type RouteMatch =
  | { readonly _tag: "Found"; readonly template: string }
  | { readonly _tag: "WrongMethod"; readonly allow: ReadonlyArray<string> }
  | { readonly _tag: "Unknown" }

/** The routes of SPEC §3 that the server serves outside the `Api` contract. */
export const operationalRoutes: ReadonlyArray<RouteSpec> = [
  { method: "GET", path: "/api/health" },
  { method: "GET", path: "/api/ready" },
  { method: "GET", path: "/metrics" },
  { method: "GET", path: "/api/openapi.json" },
  { method: "GET", path: "/docs" },
  { method: "GET", path: "/redoc" },
  { method: "GET", path: "/redoc/redoc.standalone.js" }
]

const unknown: RouteMatch = { _tag: "Unknown" }
// The order `Allow` lists methods in.
const methodOrder = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

/** Builds the lookup from route specs. */
export const make = (routes: ReadonlyArray<RouteSpec>): RouteTable["Service"] => {
  const router = FindMyWay.make<string>()
  const methods = new Set<string>()
  for (const { method, path } of routes) {
    const upper = method.toUpperCase()
    router.on(upper, path, path)
    methods.add(upper)
  }
  // A GET route answers HEAD too (the router falls back from HEAD to GET).
  if (methods.has("GET")) methods.add("HEAD")
  const find = (method: string, url: string) =>
    router.find(method, url) ?? (method === "HEAD" ? router.find("GET", url) : undefined)

  const lookup = (method: string, url: string): RouteMatch => {
    const found = find(method, url)
    if (found !== undefined) return { _tag: "Found", template: found.handler }
    const allow = methodOrder.filter((m) => m !== method && methods.has(m) && find(m, url) !== undefined)
    return allow.length === 0 ? unknown : { _tag: "WrongMethod", allow }
  }
  return RouteTable.of({ lookup })
}

/** The routes of an `HttpApi` contract, as specs. */
export const fromApi = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>
): ReadonlyArray<RouteSpec> => {
  const routes: Array<RouteSpec> = []
  HttpApi.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      routes.push({ method: endpoint.method, path: endpoint.path as `/${string}` })
    }
  })
  return routes
}

/** The known routes: which exist, and which template a request matches. */
export class RouteTable extends Context.Service<
  RouteTable,
  {
    /** Matches a method and a URL (the query, if any, is ignored). */
    readonly lookup: (method: string, url: string) => RouteMatch
  }
>()("@agora/api/http/RouteTable") {
  /** The routes of the contract and the extra routes given. */
  static readonly layer = <Id extends string, Groups extends HttpApiGroup.Constraint>(
    api: HttpApi.HttpApi<Id, Groups>,
    extra: ReadonlyArray<RouteSpec> = []
  ): Layer.Layer<RouteTable> => Layer.sync(RouteTable, () => make([...fromApi(api), ...extra]))
}
