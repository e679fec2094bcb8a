/** `GET /api/`: what this server is. */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "./Api.ts"

export const InfoHandlers = HttpApiBuilder.group(Api, "info", (handlers) =>
  Effect.succeed(handlers.handle("info", () => Effect.succeed({ name: "agora", version: "0.1.0", docs: "/docs" })))
)
