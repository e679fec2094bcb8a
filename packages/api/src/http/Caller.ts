/**
 * Who is calling, as the edge sees it before any route runs: the user of a
 * valid bearer token (`user:<id>`), else the client's address (`ip:<addr>`).
 * Rate-limit buckets and idempotency keys are scoped by it.
 *
 * A missing, expired or forged token is not an error here — the route's own
 * authentication answers 401 — it only makes the caller anonymous, so a forged
 * token never reaches another user's bucket or keys. The address is the
 * connection's peer (or what a trusted-proxy middleware set it to); headers a
 * client can write are not trusted for it.
 */
import { TokenService } from "@agora/edge"
import { Context, Effect, Option } from "effect"
import { HttpServerRequest, type HttpServerResponse } from "effect/http"

/** The caller of the current request. */
export class Caller extends Context.Service<
  Caller,
  {
    /** `user:<id>` or `ip:<addr>`. */
    readonly subject: string
    /** The user of a valid bearer token, if any. */
    readonly userId: Option.Option<string>
    /** That user's roles (empty when anonymous). */
    readonly roles: ReadonlyArray<string>
  }
>()("@agora/api/http/Caller") {}

const bearer = /^Bearer[ \t]+([^\s]+)[ \t]*$/i

/** Finds the caller of a request. */
export const identify = (tokens: TokenService["Service"], request: HttpServerRequest.HttpServerRequest) => {
  const anonymous = Effect.sync(() =>
    Caller.of({
      subject: `ip:${Option.getOrElse(request.remoteAddress, () => "unknown")}`,
      userId: Option.none(),
      roles: []
    })
  )
  const token = bearer.exec(request.headers.authorization ?? "")?.[1]
  if (token === undefined) return anonymous
  return tokens.verify(token).pipe(
    Effect.map((claims) =>
      Caller.of({ subject: `user:${claims.userId}`, userId: Option.some(claims.userId), roles: claims.roles })
    ),
    Effect.catch(() => anonymous)
  )
}

/** The middleware: provides `Caller` to everything after it. */
export const make = Effect.gen(function* () {
  const tokens = yield* TokenService
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    E,
    Exclude<R, Caller> | HttpServerRequest.HttpServerRequest
  > =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.flatMap(identify(tokens, request), (caller) => Effect.provideService(app, Caller, caller))
    )
})
