/**
 * Random scenarios for the saga model: a few users (some without an account),
 * a few SKUs with little stock, a few orders, and an interleaving of what the
 * outside world does meanwhile — top-ups, restocks, owner cancellations, the
 * card provider's answers (repeated, late), the shipping service's messages
 * (repeated, redelivered much later, about orders not paid yet), payment
 * deadlines, pauses, and crashes of the process (between steps, or in the
 * middle of a delivery, which is then delivered again). Indices are taken
 * modulo the counts, so every shrunk scenario is still a valid one.
 */
import type { Fulfilment } from "@agora/domain"
import fc from "fast-check"

type Stage = Fulfilment.Stage

/** Every stage a saga moves to. */
export const stages: ReadonlyArray<Stage> = [
  "reserving",
  "paying",
  "awaiting_payment",
  "requesting_shipment",
  "awaiting_shipment",
  "recording_shipment",
  "shipped",
  "cancelling",
  "cancelled"
]

export type Payment = "account" | "tok_ok" | "tok_decline" | "tok_timeout"

export interface UserPlan {
  /** Minor units; `null`: no account. */
  readonly balance: number | null
}

export interface SkuPlan {
  readonly price: number
  readonly stock: number
}

export interface OrderPlan {
  readonly user: number
  readonly lines: ReadonlyArray<{ readonly sku: number; readonly quantity: number }>
  readonly payment: Payment
  /** What the shipping service says in the end if the order is paid. */
  readonly shipping: "ship" | "cancel"
  /**
   * When the card provider answers if the steps did not make it: in time, only after the deadline
   * passed (tok_timeout always answers late, if at all), or never.
   */
  readonly provider: "in_time" | "late" | "never"
}

export type Step =
  | { readonly _tag: "Place"; readonly order: number }
  | { readonly _tag: "TopUp"; readonly user: number; readonly amount: number }
  | { readonly _tag: "OpenAccount"; readonly user: number }
  | { readonly _tag: "Restock"; readonly sku: number; readonly quantity: number }
  | { readonly _tag: "Cancel"; readonly order: number }
  | { readonly _tag: "ProviderAnswer"; readonly order: number; readonly copies: number }
  | {
      readonly _tag: "Shipping"
      readonly order: number
      readonly kind: "order.shipped" | "order.cancelled"
      readonly copies: number
      /** Deliver again an earlier message of this kind for the order (same event id), if there was one. */
      readonly redelivery: boolean
    }
  | { readonly _tag: "Deadline"; readonly order: number }
  | { readonly _tag: "Settle" }
  | { readonly _tag: "Crash"; readonly delayMs: number; readonly duringNext: boolean }
  /**
   * The process crashes right after its next `commands` commands to the actors, or right after the
   * saga of `order` moves to `stage` — during the next step, which is then delivered again, or while
   * the saga works after it — and stays down while `whileDown` happens (served by an API process
   * without the saga). No crash if the saga goes quiet first.
   */
  | {
      readonly _tag: "CrashAfter"
      readonly point: { readonly commands: number } | { readonly order: number; readonly stage: Stage }
      readonly duringNext: boolean
      readonly whileDown: ReadonlyArray<DownStep>
    }

/** What users and admins do through the API while the saga is down. */
export type DownStep = Extract<Step, { readonly _tag: "TopUp" | "OpenAccount" | "Restock" | "Cancel" }>

export interface Scenario {
  readonly users: ReadonlyArray<UserPlan>
  readonly skus: ReadonlyArray<SkuPlan>
  readonly orders: ReadonlyArray<OrderPlan>
  readonly steps: ReadonlyArray<Step>
}

/** Steps that can be delivered again after a crash interrupted them (the rest are not idempotent calls). */
export const redeliverable = (step: Step): boolean =>
  step._tag !== "Place" && step._tag !== "Restock" && step._tag !== "Crash" && step._tag !== "CrashAfter"

const index = fc.nat({ max: 3 })

const topUp = fc.record({
  _tag: fc.constant("TopUp" as const),
  user: index,
  amount: fc.integer({ min: 1, max: 60 }).map((n) => n * 100)
})
const openAccount = fc.record({ _tag: fc.constant("OpenAccount" as const), user: index })
const restock = fc.record({
  _tag: fc.constant("Restock" as const),
  sku: index,
  quantity: fc.integer({ min: 1, max: 3 })
})
const cancel = fc.record({ _tag: fc.constant("Cancel" as const), order: index })

const crashAfter = fc.record({
  _tag: fc.constant("CrashAfter" as const),
  point: fc.oneof(
    fc.record({ commands: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ order: index, stage: fc.constantFrom(...stages) })
  ),
  duringNext: fc.boolean(),
  whileDown: fc.array(fc.oneof<Array<fc.Arbitrary<DownStep>>>(topUp, restock, cancel, openAccount), { maxLength: 2 })
})

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: topUp },
  { weight: 1, arbitrary: openAccount },
  { weight: 1, arbitrary: restock },
  { weight: 2, arbitrary: cancel },
  {
    weight: 3,
    arbitrary: fc.record({
      _tag: fc.constant("ProviderAnswer" as const),
      order: index,
      copies: fc.integer({ min: 1, max: 3 })
    })
  },
  {
    weight: 3,
    arbitrary: fc.record({
      _tag: fc.constant("Shipping" as const),
      order: index,
      kind: fc.constantFrom("order.shipped" as const, "order.shipped" as const, "order.cancelled" as const),
      copies: fc.integer({ min: 1, max: 3 }),
      redelivery: fc.boolean()
    })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Deadline" as const), order: index }) },
  { weight: 2, arbitrary: fc.constant({ _tag: "Settle" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      _tag: fc.constant("Crash" as const),
      delayMs: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 30 })),
      duringNext: fc.boolean()
    })
  },
  { weight: 4, arbitrary: crashAfter }
)

const raw = fc.record({
  users: fc.array(
    fc.record({
      balance: fc.option(
        fc.integer({ min: 0, max: 80 }).map((n) => n * 100),
        { freq: 4, nil: null }
      )
    }),
    { minLength: 1, maxLength: 3 }
  ),
  skus: fc.array(
    fc.record({
      price: fc.integer({ min: 1, max: 20 }).map((n) => n * 100),
      stock: fc.oneof(
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }) },
        { weight: 3, arbitrary: fc.integer({ min: 3, max: 8 }) }
      )
    }),
    { minLength: 1, maxLength: 3 }
  ),
  orders: fc.array(
    fc.record({
      user: index,
      lines: fc.array(fc.record({ sku: index, quantity: fc.constantFrom(1, 1, 2, 3) }), {
        minLength: 1,
        maxLength: 3
      }),
      payment: fc.constantFrom<Payment>("account", "account", "tok_ok", "tok_ok", "tok_decline", "tok_timeout"),
      shipping: fc.constantFrom<"ship" | "cancel">("ship", "ship", "ship", "cancel"),
      provider: fc.constantFrom<"in_time" | "late" | "never">("in_time", "in_time", "late", "never")
    }),
    { minLength: 1, maxLength: 4 }
  ),
  steps: fc.array(step, { maxLength: 14 }),
  /** Where each order is placed among the steps (first orders first when equal). */
  placements: fc.array(fc.nat({ max: 14 }), { minLength: 4, maxLength: 4 }),
  /** A crash while the saga takes its first steps after a placement. */
  crashesAfterPlacing: fc.array(fc.option(crashAfter, { freq: 2, nil: undefined }), { minLength: 4, maxLength: 4 })
})

const normalise = (input: typeof raw extends fc.Arbitrary<infer T> ? T : never): Scenario => {
  const { users, skus } = input
  const orders = input.orders.map((order) => {
    const seen = new Set<number>()
    const lines = order.lines.flatMap((line) => {
      const sku = line.sku % skus.length
      if (seen.has(sku)) return []
      seen.add(sku)
      return [{ sku, quantity: line.quantity }]
    })
    return { ...order, user: order.user % users.length, lines }
  })
  const inRange = <S extends Step>(s: S): S => {
    switch (s._tag) {
      case "TopUp":
      case "OpenAccount":
        return { ...s, user: s.user % users.length }
      case "Restock":
        return { ...s, sku: s.sku % skus.length }
      case "Cancel":
      case "ProviderAnswer":
      case "Shipping":
      case "Deadline":
        return { ...s, order: s.order % orders.length }
      case "CrashAfter":
        return {
          ...s,
          point: "order" in s.point ? { ...s.point, order: s.point.order % orders.length } : s.point,
          whileDown: s.whileDown.map(inRange)
        }
      default:
        return s
    }
  }
  const steps: Array<Step> = input.steps.map(inRange)
  const at = orders
    .map((_, order) => ({ order, position: (input.placements[order] ?? 0) % (steps.length + 1) }))
    .sort((a, b) => b.position - a.position || b.order - a.order)
  for (const { order, position } of at) {
    const crash = input.crashesAfterPlacing[order]
    steps.splice(
      position,
      0,
      { _tag: "Place", order },
      ...(crash === undefined ? [] : [inRange({ ...crash, duringNext: false })])
    )
  }
  return withDescription({ users, skus, orders, steps })
}

const money = (minor: number) => (minor / 100).toFixed(2)

/** The scenario in words, for a failure report. */
export const describeScenario = (scenario: Scenario): string => {
  const lines: Array<string> = []
  lines.push(
    `users: ${scenario.users.map((u, i) => `u${i} (${u.balance === null ? "no account" : `balance ${money(u.balance)}`})`).join(", ")}`
  )
  lines.push(`skus: ${scenario.skus.map((s, i) => `s${i} (${money(s.price)}, stock ${s.stock})`).join(", ")}`)
  scenario.orders.forEach((o, i) => {
    const items = o.lines.map((l) => `${l.quantity}×s${l.sku}`).join(" + ")
    const provider = o.payment === "account" ? "" : ` (the provider answers ${o.provider.replace("_", " ")})`
    lines.push(`o${i}: u${o.user} buys ${items}, pays by ${o.payment}${provider}; shipping would ${o.shipping}`)
  })
  lines.push("steps:")
  for (const [i, s] of scenario.steps.entries()) lines.push(`  ${i + 1}. ${describeStep(s)}`)
  return lines.join("\n")
}

export const describeStep = (s: Step): string => {
  switch (s._tag) {
    case "Place":
      return `place o${s.order}`
    case "TopUp":
      return `top up u${s.user} by ${money(s.amount)}`
    case "OpenAccount":
      return `u${s.user} opens an account`
    case "Restock":
      return `restock s${s.sku} by ${s.quantity}`
    case "Cancel":
      return `the owner cancels o${s.order}`
    case "ProviderAnswer":
      return `the provider answers for o${s.order} ×${s.copies}`
    case "Shipping":
      return `shipping sends ${s.kind} for o${s.order} ×${s.copies}${s.redelivery ? " (redelivering an earlier one)" : ""}`
    case "Deadline":
      return `the payment deadline of o${s.order} passes`
    case "Settle":
      return "pause until the saga is quiet"
    case "Crash":
      return `crash after ${s.delayMs} ms${s.duringNext ? ", during the next step" : ""}`
    case "CrashAfter": {
      const during = s.duringNext ? ", during the next step" : ""
      const down = s.whileDown.length > 0 ? `; while the saga is down: ${s.whileDown.map(describeStep).join(", ")}` : ""
      const point =
        "order" in s.point ? `o${s.point.order}'s saga moves to ${s.point.stage}` : `${s.point.commands} more commands`
      return `crash right after ${point}${during}${down}`
    }
  }
}

/** A scenario written by hand (a regression), printed like a generated one. */
export const scenarioOf = (scenario: Scenario): Scenario => withDescription({ ...scenario })

const withDescription = (scenario: Scenario): Scenario =>
  Object.assign(scenario, { [fc.toStringMethod]: () => `\n${describeScenario(scenario)}\n` })

/** A random scenario. */
export const scenario: fc.Arbitrary<Scenario> = raw.map(normalise)
