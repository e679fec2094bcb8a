/**
 * Who is calling: provided by the Authentication middleware to every handler
 * of an authenticated group, from a verified bearer token.
 */
import { Context } from "effect"

export class CurrentUser extends Context.Service<
  CurrentUser,
  {
    readonly userId: string
    readonly email: string
    readonly roles: ReadonlyArray<string>
  }
>()("@agora/api/CurrentUser") {}

export const isAdmin = (user: CurrentUser["Service"]): boolean => user.roles.includes("admin")
