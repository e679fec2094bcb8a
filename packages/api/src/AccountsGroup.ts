/**
 * The caller's payment account: open it, read it, top it up, read its ledger.
 * Amounts are decimal strings with two places; input takes a string or a number.
 */
import { Money } from "@agora/domain"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { Authentication } from "./Authentication.ts"
import { Page, PageQuery } from "./Pagination.ts"
import { Conflict, NotFound, Unavailable, Unprocessable } from "./Problems.ts"

export const Account = Schema.Struct({ user_id: Schema.String, balance: Schema.String, currency: Schema.String })

export const TopUp = Schema.Struct({ amount: Money.MoneyFromDecimal })

export const Transaction = Schema.Struct({
  id: Schema.String,
  kind: Schema.Literals(["top_up", "debit", "refund"]),
  amount: Schema.String,
  order_id: Schema.NullOr(Schema.String),
  balance_after: Schema.String,
  at: Schema.String
})

export class AccountsGroup extends HttpApiGroup.make("accounts")
  .add(
    HttpApiEndpoint.post("open", "/", {
      success: Account.pipe(HttpApiSchema.status(201)),
      error: [Conflict, Unavailable]
    }),
    HttpApiEndpoint.get("me", "/me", { success: Account, error: [NotFound, Unavailable] }),
    HttpApiEndpoint.post("topUp", "/me/top-up", {
      payload: TopUp,
      success: Account,
      error: [NotFound, Unprocessable, Unavailable]
    }),
    HttpApiEndpoint.get("transactions", "/me/transactions", {
      query: PageQuery,
      success: Page(Transaction),
      error: [NotFound, Unavailable]
    })
  )
  .middleware(Authentication)
  .prefix("/api/accounts") {}
