/**
 * The HTTP API as router routes: the contract, its handlers and middleware,
 * the OpenAPI document and the Swagger UI (assets bundled, no CDN). Needs the
 * application services and the token service.
 */
import { Layer } from "effect"
import { HttpApiBuilder, HttpApiSwagger } from "effect/http-api"
import { AccountsHandlers } from "./AccountsHandlers.ts"
import { Api } from "./Api.ts"
import * as Authentication from "./Authentication.ts"
import { AuthHandlers, ProfileHandlers } from "./AuthHandlers.ts"
import { InfoHandlers } from "./InfoHandlers.ts"
import * as RequestValidation from "./RequestValidation.ts"

const Handlers = Layer.mergeAll(InfoHandlers, AuthHandlers, ProfileHandlers, AccountsHandlers)

export const routes = Layer.mergeAll(
  HttpApiBuilder.layer(Api, { openapiPath: "/api/openapi.json" }).pipe(Layer.provide(Handlers)),
  HttpApiSwagger.layer(Api, { path: "/docs" })
)

/** The middleware implementations the routes need at serve time. */
export const middleware = Layer.mergeAll(Authentication.layer, RequestValidation.layer)
