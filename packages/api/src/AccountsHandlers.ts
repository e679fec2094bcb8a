/** Payment account handlers, always on the caller's own account. */
import { Accounts } from "@agora/app"
import { Money } from "@agora/domain"
import { DateTime, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "./Api.ts"
import { unavailable } from "./AuthHandlers.ts"
import { CurrentUser } from "./CurrentUser.ts"
import { defaultLimit } from "./Pagination.ts"
import { Conflict, NotFound, Unprocessable } from "./Problems.ts"

const account = (view: Accounts.AccountView) => ({
  user_id: view.userId,
  balance: Money.toDecimalString(view.balance),
  currency: view.currency
})

const noAccount = () =>
  Effect.fail(
    new NotFound({ detail: "You have no payment account yet: POST /api/accounts opens one", code: "no_account" })
  )

export const AccountsHandlers = HttpApiBuilder.group(Api, "accounts", (handlers) =>
  Effect.gen(function* () {
    const accounts = yield* Accounts.Accounts
    return handlers
      .handle("open", () =>
        CurrentUser.use((caller) =>
          accounts.open(caller.userId).pipe(
            Effect.map(account),
            Effect.catchTags({
              AccountAlreadyOpen: () =>
                Effect.fail(new Conflict({ detail: "You already have a payment account", code: "account_exists" })),
              UnexpectedAccountError: unavailable
            })
          )
        )
      )
      .handle("me", () =>
        CurrentUser.use((caller) =>
          accounts
            .get(caller.userId)
            .pipe(
              Effect.map(account),
              Effect.catchTags({ AccountNotFound: noAccount, UnexpectedAccountError: unavailable })
            )
        )
      )
      .handle("topUp", ({ payload }) =>
        CurrentUser.use((caller) =>
          accounts.topUp(caller.userId, payload.amount).pipe(
            Effect.map(account),
            Effect.catchTags({
              AccountNotFound: noAccount,
              InvalidAmount: (e) =>
                Effect.fail(
                  new Unprocessable({
                    detail: `The amount ${e.reason}`,
                    code: "invalid_amount",
                    errors: [{ path: ["payload", "amount"], message: e.reason }]
                  })
                ),
              UnexpectedAccountError: unavailable
            })
          )
        )
      )
      .handle("transactions", ({ query }) =>
        CurrentUser.use((caller) =>
          accounts.ledger(caller.userId, { limit: query.limit ?? defaultLimit, cursor: query.cursor }).pipe(
            Effect.map((page) => ({
              data: page.entries.map((e) => ({
                id: e.id,
                kind: e.kind,
                amount: Money.toDecimalString(e.amount),
                order_id: e.orderId,
                balance_after: Money.toDecimalString(e.balanceAfter),
                at: DateTime.formatIso(e.at)
              })),
              next_cursor: page.nextCursor
            })),
            Effect.catchTags({ AccountNotFound: noAccount, UnexpectedAccountError: unavailable })
          )
        )
      )
  })
)
