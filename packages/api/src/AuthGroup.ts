/**
 * The auth routes: registration, the OAuth2 password-flow token endpoint
 * (form or JSON), and the caller's own profile.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { Authentication } from "./Authentication.ts"
import { Conflict, NotFound, Unauthenticated, Unavailable, Unprocessable } from "./Problems.ts"

export const Credentials = Schema.Struct({ email: Schema.String, password: Schema.String })

const TokenRequest = Schema.Struct({ username: Schema.String, password: Schema.String })

export const RegisteredUser = Schema.Struct({ id: Schema.String, email: Schema.String, created_at: Schema.String })

export const Token = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.Literal("bearer"),
  expires_in: Schema.Number
})

export const Me = Schema.Struct({
  id: Schema.String,
  email: Schema.String,
  roles: Schema.Array(Schema.String),
  created_at: Schema.String
})

export class AuthGroup extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("register", "/register", {
      payload: Credentials,
      success: RegisteredUser.pipe(HttpApiSchema.status(201)),
      error: [Conflict, Unprocessable, Unavailable]
    }),
    HttpApiEndpoint.post("token", "/token", {
      payload: [TokenRequest, TokenRequest.pipe(HttpApiSchema.asFormUrlEncoded())],
      success: Token,
      error: [Unauthenticated, Unavailable]
    })
  )
  .prefix("/api/auth") {}

export class ProfileGroup extends HttpApiGroup.make("profile")
  .add(HttpApiEndpoint.get("me", "/me", { success: Me, error: [NotFound, Unavailable] }))
  .middleware(Authentication)
  .prefix("/api/auth") {}
