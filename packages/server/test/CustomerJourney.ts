/**
 * The black-box flows of the shop, as one customer and the admin go through
 * them over HTTP: register (and be refused a second time), sign in, open an
 * account, top up (and replay the top-up with its idempotency key), order
 * paid from the account and by card (`tok_ok`), cancel a paid order, wait
 * for the shipping service, list orders, read the ledger, the payments and
 * the shipment, and the admin's view of the stock. Each request goes to
 * whichever server the client's `base` gives (round robin over a cluster's
 * nodes, or one server), and every read that follows a write passes the
 * write's `X-Position` as `min_position`, as a client that wants its own
 * writes back does.
 *
 * It asserts what SPEC says each step gives, and returns the journey as a
 * transcript with the run's ids, times and tokens taken out, so that two
 * deployments can be compared answer by answer.
 */
import { randomUUID } from "node:crypto"
import { assert } from "@effect/vitest"
import { type Answer, Client } from "./chaos/Client.ts"
import { sleep } from "./chaos/Concurrency.ts"
import { minorOf } from "./chaos/Ledger.ts"
import { signInAdmin } from "./chaos/Scenario.ts"

/** One step: what was asked, and the answer's status and the parts of its body that do not depend on the run. */
export interface Step {
  readonly step: string
  readonly status: number
  readonly body: unknown
}

/** How long the shipping service takes to answer: a paid order is cancelled well within it. */
export const shippingDelay = "3 seconds"

const password = "journey-password-1"

/** Polls `read` until `accept` holds, for at most `seconds`; returns the accepted answer. */
const poll = async (what: string, read: () => Promise<Answer>, accept: (answer: Answer) => boolean, seconds = 20) => {
  const deadline = Date.now() + seconds * 1000
  let last: Answer | undefined
  while (Date.now() < deadline) {
    last = await read()
    if (accept(last)) return last
    await sleep(50)
  }
  return assert.fail(`not within ${seconds}s: ${what}; last answer ${last?.status} ${JSON.stringify(last?.body)}`)
}

const position = (answer: Answer): number => {
  const header = answer.headers.get("x-position")
  assert.isNotNull(header, "a write answered without X-Position")
  return Number(header)
}

/** Goes through the journey with a new customer; `base` picks the server of each request; `deployment` names it in failures. */
export const run = async (base: () => string, deployment: string): Promise<ReadonlyArray<Step>> => {
  const client = new Client(base)
  const until = (what: string, read: () => Promise<Answer>, accept: (answer: Answer) => boolean) =>
    poll(`${deployment}: ${what}`, read, accept)
  const steps: Array<Step> = []
  // Ids of the run, named by their place in the journey in the transcript.
  const labels = new Map<string, string>()
  const label = (id: unknown, name: string) => {
    if (typeof id === "string") labels.set(id, name)
  }
  const anonymise = (value: unknown): unknown => {
    if (typeof value === "string") return labels.get(value) ?? value
    if (Array.isArray(value)) return value.map(anonymise)
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, anonymise(v)]))
    }
    return value
  }
  const record = (step: string, answer: Answer, pick: (body: Record<string, unknown>) => unknown) => {
    steps.push({ step, status: answer.status, body: anonymise(pick(answer.body ?? {})) })
    return answer
  }
  const expect = (answer: Answer, status: number, what: string) =>
    assert.strictEqual(answer.status, status, `${deployment}: ${what}: ${JSON.stringify(answer.body)}`)

  const email = `journey-${randomUUID().slice(0, 8)}@example.com`
  const admin = await signInAdmin(client)

  // Registration: the email is claimed cluster-wide at once.
  const registered = await client.send("POST", "/api/auth/register", { json: { email, password } }, "write")
  expect(registered, 201, "register")
  label(registered.body.id, "user")
  label(email, "email")
  record("register", registered, (b) => ({ id: b.id, email: b.email }))
  const again = await client.send("POST", "/api/auth/register", { json: { email, password } }, "write")
  expect(again, 409, "register the same email again")
  record("register again", again, (b) => ({ status: b.status }))
  const signedIn = await client.send("POST", "/api/auth/token", { json: { username: email, password } }, "write")
  expect(signedIn, 200, "token")
  record("token", signedIn, (b) => ({ token_type: b.token_type, expires_in: b.expires_in }))
  const token = String(signedIn.body.access_token)
  const me = await client.send("GET", "/api/auth/me", { token })
  record("me", me, (b) => ({ id: b.id, email: b.email, roles: b.roles }))
  assert.strictEqual(me.body.email, email)

  // The account: opened once, topped up, the top-up replayed by its key on the next node.
  const opened = await client.send("POST", "/api/accounts", { token }, "write")
  expect(opened, 201, "open the account")
  record("open account", opened, (b) => b)
  const openedAgain = await client.send("POST", "/api/accounts", { token }, "write")
  expect(openedAgain, 409, "open the account again")
  record("open account again", openedAgain, (b) => ({ status: b.status }))
  const topUp = { token, json: { amount: "5000.00" }, headers: { "idempotency-key": randomUUID() } }
  const toppedUp = await client.send("POST", "/api/accounts/me/top-up", topUp, "write")
  expect(toppedUp, 200, "top up")
  record("top up", toppedUp, (b) => b)
  const replayed = await client.send("POST", "/api/accounts/me/top-up", topUp, "write")
  expect(replayed, 200, "the top-up replayed")
  assert.strictEqual(replayed.headers.get("idempotent-replayed"), "true")
  assert.deepStrictEqual(replayed.body, toppedUp.body)
  record("top up replayed", replayed, (b) => b)
  const balance = await client.send("GET", `/api/accounts/me?min_position=${position(toppedUp)}`, { token })
  record("balance after the top-up", balance, (b) => b)
  assert.strictEqual(balance.body.balance, "5000.00", "the top-up is read on the next node, once")

  // Three orders: from the account, by card, and one from the account to be cancelled once paid.
  const place = async (name: string, json: unknown) => {
    const placed = await client.send("POST", "/api/orders", { token, json }, "write")
    expect(placed, 202, `place ${name}`)
    label(placed.body.id, name)
    record(`place ${name}`, placed, ({ id, status, items, total, currency, payment_method }) => ({
      id,
      status,
      items,
      total,
      currency,
      payment_method
    }))
    const read = await client.send("GET", `/api/orders/${placed.body.id}?min_position=${position(placed)}`, { token })
    expect(read, 200, `read ${name} on the next node`)
    record(`read ${name} at once`, read, (b) => ({ id: b.id, total: b.total }))
    return { id: String(placed.body.id), total: minorOf(String(placed.body.total)) }
  }
  const byAccount = await place("order1", {
    items: [{ sku: "OIL-FLT-003", quantity: 2 }],
    payment_method: "account"
  })
  const order = (id: string) => () => client.send("GET", `/api/orders/${id}`, { token })
  // One payment at a time, so the ledger's entries (and their balances after) come in the same order on every run.
  await until("order1 PAID", order(byAccount.id), (a) => a.body?.status === "PAID" || a.body?.status === "SHIPPED")
  const byCard = await place("order2", {
    items: [{ sku: "AIR-FLT-004", quantity: 1 }],
    payment_method: "card",
    card_token: "tok_ok"
  })
  const toCancel = await place("order3", {
    items: [{ sku: "SPK-PLG-IR-006", quantity: 1 }],
    payment_method: "account"
  })
  await until("order3 PAID", order(toCancel.id), (a) => a.body?.status === "PAID")
  const cancelled = await client.send("POST", `/api/orders/${toCancel.id}/cancel`, { token }, "write")
  expect(cancelled, 202, "cancel order3 once paid (before the shipping service answers)")
  record("cancel order3", cancelled, (b) => ({ id: b.id }))

  // Every order at rest: two shipped, one cancelled; a shipped order can no longer be cancelled.
  const final = async (name: string, id: string, status: string) => {
    const answer = await until(`${name} ${status}`, order(id), (a) => a.body?.status === status)
    label(answer.body.payment_id, `${name}/payment`)
    label(answer.body.shipment_id, `${name}/shipment`)
    record(`${name} at rest`, answer, (b) => ({
      status: b.status,
      status_reason: b.status_reason,
      payment_id: b.payment_id,
      shipment_id: b.shipment_id
    }))
    return answer
  }
  const shipped1 = await final("order1", byAccount.id, "SHIPPED")
  const shipped2 = await final("order2", byCard.id, "SHIPPED")
  const cancelled3 = await final("order3", toCancel.id, "CANCELLED")
  assert.strictEqual(cancelled3.body.status_reason, "cancelled_by_user")
  const late = await client.send("POST", `/api/orders/${byAccount.id}/cancel`, { token }, "write")
  expect(late, 409, "cancel a shipped order")
  record("cancel order1 once shipped", late, (b) => ({ status: b.status }))

  // The reads, at the head of what this client wrote: orders, money, payments, shipment, stock.
  const listed = await until(
    "the order list shows the three orders at rest",
    () => client.send("GET", "/api/orders", { token }),
    (a) =>
      Array.isArray(a.body?.data) &&
      a.body.data.map((o: { status: string }) => o.status).join() === "CANCELLED,SHIPPED,SHIPPED"
  )
  record("list orders", listed, (b) =>
    (b.data as Array<Record<string, unknown>>).map((o) => ({ id: o.id, status: o.status, total: o.total }))
  )
  assert.deepStrictEqual(
    listed.body.data.map((o: { id: string }) => o.id),
    [toCancel.id, byCard.id, byAccount.id],
    "newest first"
  )
  const ledger = await until(
    "the ledger shows the top-up, two debits and a refund",
    () => client.send("GET", "/api/accounts/me/transactions", { token }),
    (a) => Array.isArray(a.body?.data) && a.body.data.length === 4
  )
  record("ledger", ledger, (b) =>
    (b.data as Array<Record<string, unknown>>).map((e) => ({
      kind: e.kind,
      amount: e.amount,
      order_id: e.order_id,
      balance_after: e.balance_after
    }))
  )
  const entries = ledger.body.data
    .map(
      (e: { kind: string; amount: string; order_id: string | null }) => `${e.kind}/${minorOf(e.amount)}/${e.order_id}`
    )
    .sort()
  assert.deepStrictEqual(
    entries,
    [
      `debit/${byAccount.total}/${byAccount.id}`,
      `debit/${toCancel.total}/${toCancel.id}`,
      `refund/${toCancel.total}/${toCancel.id}`,
      "top_up/500000/null"
    ].sort()
  )
  const account = await client.send("GET", "/api/accounts/me", { token })
  record("balance at rest", account, (b) => b)
  assert.strictEqual(minorOf(account.body.balance), 500_000 - byAccount.total, "balance = top-up − the shipped debit")

  for (const [name, answer, status] of [
    ["order1", shipped1, "succeeded"],
    ["order2", shipped2, "succeeded"],
    ["order3", cancelled3, "refunded"]
  ] as const) {
    const payment = await client.send("GET", `/api/payments/${answer.body.payment_id}`, { token })
    record(`${name}'s payment`, payment, ({ id, order_id, amount, status, method }) => ({
      id,
      order_id,
      amount,
      status,
      method
    }))
    assert.strictEqual(payment.body.status, status, `${name}'s payment`)
  }
  const shipment = await client.send("GET", `/api/shipments/${shipped1.body.shipment_id}`, { token })
  record("order1's shipment", shipment, ({ id, order_id, status, items }) => ({ id, order_id, status, items }))
  assert.strictEqual(shipment.body.status, "shipped")

  for (const sku of ["OIL-FLT-003", "AIR-FLT-004", "SPK-PLG-IR-006"]) {
    const stock = await client.send("GET", `/api/admin/inventory/${sku}`, { token: admin })
    record(`stock of ${sku}`, stock, (b) => b)
    assert.strictEqual(stock.body.reserved, 0, `${sku}: nothing reserved at rest`)
  }
  assert.deepStrictEqual(client.serverErrors, [], "no 5xx but 503")
  return steps
}
