/** Who is signed in: the token (kept by `api.ts`) and the profile it belongs to. */
import { get, request, setToken, token } from "./api.ts"
import type { Me, Token } from "./types.ts"

let me: Me | undefined
const listeners = new Set<() => void>()
const changed = () => {
  for (const listener of listeners) listener()
}

/** The signed-in user, if any. */
export const current = (): Me | undefined => me

export const isAdmin = (): boolean => me?.roles.includes("admin") ?? false

/** Called whenever someone signs in or out. */
export const onChange = (listener: () => void): void => {
  listeners.add(listener)
}

/**
 * Loads the profile of a token kept from an earlier visit. A refused token is
 * forgotten (by `api.ts`); on any other failure the token is kept for later.
 */
export const restore = async (): Promise<void> => {
  if (token() === undefined) return
  try {
    me = await get<Me>("/api/auth/me")
  } catch {
    me = undefined
  }
  changed()
}

export const signIn = async (email: string, password: string): Promise<Me> => {
  const issued = await request<Token>("POST", "/api/auth/token", {
    json: { username: email, password },
    anonymous: true
  })
  setToken(issued.access_token)
  me = await get<Me>("/api/auth/me")
  changed()
  return me
}

export const register = async (email: string, password: string): Promise<Me> => {
  await request("POST", "/api/auth/register", { json: { email, password }, anonymous: true })
  return signIn(email, password)
}

export const signOut = (): void => {
  setToken(undefined)
  me = undefined
  changed()
}

/** The token was refused (it expired): forget the user without a request. */
export const expired = (): void => {
  me = undefined
  changed()
}
