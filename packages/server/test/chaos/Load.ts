/**
 * The load: virtual users registered up front, each with an account and a
 * first top-up, then each looping until told to stop: top up, place orders
 * (paid from the account or by card: `tok_ok`, `tok_slow`, `tok_decline`,
 * `tok_timeout`), cancel one of its recent orders, and read (its orders, its
 * account and ledger, the catalog). Writes go through `Client.write` (same
 * key and body on every retry) and land in the `Ledger` with their outcome.
 */
import { randomUUID } from "node:crypto"
import type { Client } from "./Client.ts"
import { mapLimit, sleep } from "./Concurrency.ts"
import { decimal, type Ledger, type Line, type PaymentChoice, type VirtualUser } from "./Ledger.ts"

export interface LoadOptions {
  /** The SKUs orders are made of (each order takes one or two, 1 to 3 of each). */
  readonly skus: ReadonlyArray<string>
  /** A SKU with little stock, added to a share of the orders (some of them end `out_of_stock`). */
  readonly scarce: { readonly sku: string; readonly share: number }
  /** How long a write is retried before it counts as unresolved. */
  readonly writeBudgetMs: number
}

const password = "chaos-password-123"

const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(Math.random() * items.length)]!

const between = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1))

const payments: ReadonlyArray<readonly [PaymentChoice, number]> = [
  ["account", 0.45],
  ["tok_ok", 0.28],
  ["tok_slow", 0.07],
  ["tok_decline", 0.12],
  ["tok_timeout", 0.08]
]

const choosePayment = (): PaymentChoice => {
  let r = Math.random()
  for (const [choice, weight] of payments) {
    r -= weight
    if (r < 0) return choice
  }
  return "account"
}

/** Retries a setup request until it answers one of `expected` (setup runs before any fault, on a busy machine). */
const setupCall = async (
  client: Client,
  method: string,
  path: string,
  options: { readonly token?: string; readonly json?: unknown },
  expected: ReadonlyArray<number>
) => {
  const deadline = Date.now() + 60_000
  while (true) {
    const answer = await client.send(method, path, { ...options, timeoutMs: 30_000 }, "write")
    if (expected.includes(answer.status)) return answer
    if (Date.now() > deadline) {
      throw new Error(`setup: ${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`)
    }
    await sleep(200)
  }
}

/** A token for this email and password. */
export const signIn = async (client: Client, email: string, secret: string): Promise<string> =>
  (await setupCall(client, "POST", "/api/auth/token", { json: { username: email, password: secret } }, [200])).body
    .access_token as string

/** Registers this email (or finds it registered by an attempt that got no answer) and signs in. */
export const register = async (client: Client, email: string, secret: string): Promise<string> => {
  await setupCall(client, "POST", "/api/auth/register", { json: { email, password: secret } }, [201, 409])
  return signIn(client, email, secret)
}

/** Registers `count` users (four at a time: hashing passwords is slow), each with an account and a first acknowledged top-up. */
export const setupUsers = async (client: Client, ledger: Ledger, count: number, label: string) => {
  const run = randomUUID().slice(0, 8)
  await mapLimit(
    Array.from({ length: count }, (_, index) => index),
    4,
    async (index) => {
      const email = `chaos-${label}-${run}-${index}@example.com`
      const token = await register(client, email, password)
      const me = await setupCall(client, "GET", "/api/auth/me", { token }, [200])
      await setupCall(client, "POST", "/api/accounts", { token }, [201, 409])
      const user: VirtualUser = { index, email, userId: String(me.body.id), token }
      ledger.users[index] = user
      const amount = 20_000_00 + index
      const outcome = await client.write("/api/accounts/me/top-up", {
        token,
        json: { amount: decimal(amount) },
        budgetMs: 60_000,
        timeoutMs: 30_000
      })
      if (outcome._tag !== "acknowledged") throw new Error(`setup: the first top-up of ${email} was not acknowledged`)
      ledger.record({ _tag: "TopUp", user: index, amount, outcome })
    }
  )
}

/** One user's loop, until `stop()`; the write in progress when it stops still runs to its outcome. */
const userLoop = async (
  client: Client,
  ledger: Ledger,
  user: VirtualUser,
  options: LoadOptions,
  stop: () => boolean
) => {
  const usedAmounts = new Set<number>([20_000_00 + user.index])
  const orders: Array<{ readonly id: string; readonly position: string | null }> = []
  const cancelled = new Set<string>()
  const write = (path: string, json?: unknown) =>
    client.write(path, { token: user.token, json, budgetMs: options.writeBudgetMs })

  const topUp = async () => {
    let amount = between(300, 3000) * 100 + between(0, 99)
    while (usedAmounts.has(amount)) amount++
    usedAmounts.add(amount)
    const outcome = await write("/api/accounts/me/top-up", { amount: decimal(amount) })
    ledger.record({ _tag: "TopUp", user: user.index, amount, outcome })
  }

  const placeOrder = async () => {
    const skus = [...options.skus].sort(() => Math.random() - 0.5).slice(0, between(1, 2))
    if (Math.random() < options.scarce.share) skus.push(options.scarce.sku)
    const lines: Array<Line> = skus.map((sku) => ({ sku, quantity: between(1, 3) }))
    const payment = choosePayment()
    const outcome = await write("/api/orders", {
      items: lines,
      ...(payment === "account" ? { payment_method: "account" } : { payment_method: "card", card_token: payment })
    })
    ledger.record({ _tag: "PlaceOrder", user: user.index, lines, payment, outcome })
    if (outcome._tag === "acknowledged") {
      orders.push({ id: String(outcome.answer.body.id), position: outcome.answer.headers.get("x-position") })
    }
  }

  const cancelOne = async () => {
    const candidates = orders.slice(-4).filter((o) => !cancelled.has(o.id))
    if (candidates.length === 0) return placeOrder()
    const { id } = pick(candidates)
    cancelled.add(id)
    const outcome = await write(`/api/orders/${id}/cancel`)
    ledger.record({ _tag: "CancelOrder", user: user.index, orderId: id, outcome })
  }

  const read = async () => {
    const auth = { token: user.token }
    const last = orders.at(-1)
    const r = Math.random()
    if (r < 0.35 && last !== undefined) {
      // As the shop does: its own last write's position, so the answer is never older than that write.
      const query = last.position === null ? "" : `?min_position=${last.position}`
      await client.send("GET", `/api/orders/${last.id}${query}`, auth)
    } else if (r < 0.55) await client.send("GET", "/api/accounts/me", auth)
    else if (r < 0.7) await client.send("GET", "/api/orders?limit=10", auth)
    else if (r < 0.85) await client.send("GET", "/api/accounts/me/transactions?limit=10", auth)
    else await client.send("GET", "/api/products", auth)
  }

  while (!stop()) {
    const r = Math.random()
    if (r < 0.15) await topUp()
    else if (r < 0.55) await placeOrder()
    else if (r < 0.65) await cancelOne()
    else await read()
    await sleep(between(20, 80))
  }
}

/** Runs every user's loop until `stop()`; resolves once all have finished their last write. */
export const run = (client: Client, ledger: Ledger, options: LoadOptions, stop: () => boolean): Promise<void> =>
  Promise.all(ledger.users.map((user) => userLoop(client, ledger, user, options, stop))).then(() => undefined)
