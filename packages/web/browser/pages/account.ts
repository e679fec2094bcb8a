/** The payment account: open it, see the balance, top it up (once per intent), and read the ledger. */
import { ApiError, asApiError, get, request } from "../api.ts"
import { dateTime, h, money, replace, shortId } from "../dom.ts"
import type { PageContext } from "../navigation.ts"
import type { Account, LedgerEntry, Page } from "../types.ts"
import { empty, errorAlert, field, heading, loading, onSubmit, table, toast } from "../ui.ts"

const kinds: Readonly<Record<LedgerEntry["kind"], string>> = { top_up: "Top-up", debit: "Payment", refund: "Refund" }

const ledgerRow = (entry: LedgerEntry, currency: string) => [
  dateTime(entry.at),
  kinds[entry.kind] ?? entry.kind,
  entry.order_id === null ? "—" : h("a", { href: `/orders/${entry.order_id}` }, `Order ${shortId(entry.order_id)}`),
  h(
    "span",
    { class: entry.kind === "debit" ? "amount debit" : "amount" },
    `${entry.kind === "debit" ? "−" : "+"}${money(entry.amount, currency)}`
  ),
  money(entry.balance_after, currency)
]

export const accountPage = async (context: PageContext): Promise<void> => {
  const { main, signal } = context
  const title = heading("Account")
  replace(main, title, loading("Loading your account…"))
  let account: Account
  try {
    account = await get<Account>("/api/accounts/me", signal)
  } catch (error) {
    if (signal.aborted) return
    if (!(error instanceof ApiError && error.status === 404)) {
      replace(main, title, errorAlert(asApiError(error), "Your account could not be loaded."))
      return
    }
    const open = h("form", { class: "card" }, h("button", { type: "submit", class: "primary" }, "Open an account"))
    onSubmit(open, async () => {
      await request("POST", "/api/accounts", { idempotent: "open-account" })
      toast("Your account is open.")
      await accountPage(context)
    })
    replace(
      main,
      title,
      empty(h("p", null, "You have no payment account yet. Open one to top it up and pay for orders from it.")),
      open
    )
    return
  }

  const balance = h("p", { class: "balance", "data-testid": "balance" }, money(account.balance, account.currency))
  const ledger = h("section", { "aria-labelledby": "ledger-title" })
  const showLedger = async () => {
    const page = await get<Page<LedgerEntry>>("/api/accounts/me/transactions?limit=50", signal)
    replace(
      ledger,
      h("h2", { id: "ledger-title" }, "Transactions"),
      page.data.length === 0
        ? empty(h("p", null, "No transactions yet."))
        : table(
            "Your transactions, newest first",
            ["When", "Kind", "Order", "Amount", "Balance after"],
            page.data.map((entry) => ledgerRow(entry, account.currency))
          ),
      page.next_cursor === null ? null : h("p", { class: "hint" }, "Showing the latest 50 transactions.")
    )
  }

  const topUp = h(
    "form",
    { class: "card inline-form", "aria-labelledby": "top-up-title" },
    h("h2", { id: "top-up-title" }, "Top up"),
    field({
      label: `Amount (${account.currency})`,
      name: "amount",
      hint: "Up to 1,000,000.00, with at most two decimals.",
      attributes: { inputmode: "decimal", autocomplete: "off", required: true }
    }),
    h("button", { type: "submit", class: "primary" }, "Top up")
  )
  onSubmit(topUp, async (data) => {
    const amount = String(data.get("amount") ?? "")
      .trim()
      .replace(",", ".")
    account = await request<Account>("POST", "/api/accounts/me/top-up", { idempotent: "top-up", json: { amount } })
    balance.textContent = money(account.balance, account.currency)
    topUp.reset()
    toast(`Topped up: your balance is ${money(account.balance, account.currency)}.`)
    await showLedger()
  })

  replace(
    main,
    title,
    h(
      "div",
      { class: "columns" },
      h("section", { class: "card", "aria-label": "Balance" }, h("h2", null, "Balance"), balance),
      topUp
    ),
    ledger
  )
  try {
    await showLedger()
  } catch (error) {
    if (!signal.aborted) replace(ledger, errorAlert(asApiError(error), "The transactions could not be loaded."))
  }
}
