/**
 * A customer and an order driven over HTTP against a running server, for the
 * tests that watch what the server tells about an order (logs, traces,
 * metrics) rather than the order itself.
 */
import { randomUUID } from "node:crypto"
import { call } from "./ServerProcess.ts"

/** A new customer whose account holds `balance`; returns the token. */
export const customer = async (url: string, balance: string): Promise<string> => {
  const email = `obs-${randomUUID().slice(0, 8)}@example.com`
  const password = "correct horse battery"
  const registered = await call(url, "POST", "/api/auth/register", { json: { email, password } })
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`)
  const token = (await call(url, "POST", "/api/auth/token", { json: { username: email, password } })).body
    .access_token as string
  await call(url, "POST", "/api/accounts", { token })
  await call(url, "POST", "/api/accounts/me/top-up", { token, json: { amount: balance } })
  return token
}

/** Places an order paid from the account, with these extra request headers; returns its id and the response. */
export const placeOrder = async (
  url: string,
  token: string,
  headers: Readonly<Record<string, string>> = {}
): Promise<{ readonly id: string; readonly response: Response }> => {
  const response = await fetch(`${url}/api/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ items: [{ sku: "OIL-FLT-003", quantity: 1 }], payment_method: "account" })
  })
  const body = (await response.json()) as { readonly id?: string }
  if (response.status !== 202 || body.id === undefined) {
    throw new Error(`order: ${response.status} ${JSON.stringify(body)}`)
  }
  return { id: body.id, response }
}

/** Waits until the order has `status` (failing after `seconds`). */
export const awaitStatus = async (url: string, token: string, id: string, status: string, seconds = 15) => {
  const deadline = Date.now() + seconds * 1000
  let last = ""
  while (Date.now() < deadline) {
    last = (await call(url, "GET", `/api/orders/${id}`, { token })).body.status
    if (last === status) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`order ${id} is ${last}, not ${status}, after ${seconds}s`)
}

/** Waits until `check` holds (failing with `what` after `seconds`). */
export const eventually = async (what: string, check: () => boolean | Promise<boolean>, seconds = 15) => {
  const deadline = Date.now() + seconds * 1000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${seconds}s: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Every non-empty line a process writes to `stream` from now on. */
export const collectLines = (stream: NodeJS.ReadableStream | null | undefined): (() => ReadonlyArray<string>) => {
  const lines: Array<string> = []
  let partial = ""
  stream?.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split("\n")
    partial = parts.pop() ?? ""
    lines.push(...parts.filter((line) => line !== ""))
  })
  return () => lines
}
