/** Sign in, or create an account and sign in with it; then back where the user was going. */
import { h, replace } from "../dom.ts"
import { go, type PageContext } from "../navigation.ts"
import * as Session from "../session.ts"
import { field, heading, onSubmit } from "../ui.ts"

// Only a path of this app: `?next=https://elsewhere` must not send anyone away.
const nextPath = (query: URLSearchParams) => {
  const next = query.get("next") ?? "/"
  return next.startsWith("/") && !next.startsWith("//") ? next : "/"
}

const credentials = (data: FormData) => [String(data.get("email") ?? ""), String(data.get("password") ?? "")] as const

export const loginPage = ({ main, query }: PageContext): void => {
  const next = nextPath(query)
  const signIn = h(
    "form",
    { class: "card", "aria-labelledby": "sign-in-title" },
    h("h2", { id: "sign-in-title" }, "Sign in"),
    field({ label: "Email", name: "email", type: "email", attributes: { autocomplete: "username", required: true } }),
    field({
      label: "Password",
      name: "password",
      type: "password",
      attributes: { autocomplete: "current-password", required: true }
    }),
    h("button", { type: "submit", class: "primary" }, "Sign in")
  )
  onSubmit(signIn, async (data) => {
    await Session.signIn(...credentials(data))
    go(next, { replace: true })
  })

  const register = h(
    "form",
    { class: "card", "aria-labelledby": "register-title" },
    h("h2", { id: "register-title" }, "Create an account"),
    field({ label: "Email", name: "email", type: "email", attributes: { autocomplete: "email", required: true } }),
    field({
      label: "Password",
      name: "password",
      type: "password",
      hint: "At least 8 characters.",
      attributes: { autocomplete: "new-password", required: true, minlength: 8 }
    }),
    h("button", { type: "submit", class: "primary" }, "Create account")
  )
  onSubmit(register, async (data) => {
    await Session.register(...credentials(data))
    go(next, { replace: true })
  })

  replace(
    main,
    heading("Sign in or create an account"),
    query.has("expired")
      ? h("p", { class: "notice", role: "status" }, "Your session has ended; please sign in again.")
      : null,
    Session.current() === undefined
      ? null
      : h(
          "p",
          { class: "notice" },
          `You are signed in as ${Session.current()?.email}. Signing in again switches user.`
        ),
    h("div", { class: "columns" }, signIn, register)
  )
}
