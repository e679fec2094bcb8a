/**
 * Request bodies over the limit (`HTTP_MAX_BODY_BYTES`, 1 MiB by default;
 * SPEC §8) are a 413 problem and are never read whole.
 *
 * A declared `Content-Length` over the limit is refused before anything is
 * read. A body without one (chunked) is counted as it is read: the
 * `MaxBodySize` reference stops the read at the limit, and the error that
 * follows — a failure, or a defect where the reader was `orDie`d — becomes the
 * same 413. The 413 closes the connection, so an unread rest is not drained.
 */
import { ByteSize, Config, ConfigProvider, Effect } from "effect"
import { HttpIncomingMessage, HttpServerRequest, type HttpServerResponse } from "effect/http"
import { payloadTooLarge, requestErrorOf } from "./Faults.ts"

/** `HTTP_MAX_BODY_BYTES`: the largest request body accepted, in bytes (default 1 MiB). */
export const maxBodyBytesConfig = Config.Int("HTTP_MAX_BODY_BYTES").pipe(
  Config.withDefault(1024 * 1024),
  Config.mapEffect((n) =>
    n > 0
      ? Effect.succeed(n)
      : Effect.fail(
          new Config.ConfigError(new ConfigProvider.SourceError({ message: "HTTP_MAX_BODY_BYTES must be positive" }))
        )
  )
)

/** The middleware for a limit of `maxBytes`. */
export const make =
  (maxBytes: number) =>
  <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const declared = request.headers["content-length"]
      // Node has already refused a Content-Length that is not a number.
      if (declared !== undefined && Number(declared) > maxBytes) return Effect.succeed(payloadTooLarge(maxBytes))
      return app.pipe(
        Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBytes)),
        Effect.catchCause((cause) => {
          const error = requestErrorOf(cause)
          return error?._tag === "RequestParseError" && error.reason === "BodyTooLarge"
            ? Effect.succeed(payloadTooLarge(maxBytes))
            : Effect.failCause(cause)
        })
      )
    })
