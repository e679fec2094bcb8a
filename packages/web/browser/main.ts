/**
 * The shop's entry point: the routes, the navigation bar, and client-side
 * navigation (history API; the server answers every app path with the page).
 * A page renders into `<main>`; navigating away aborts its signal, which
 * cancels its requests and closes its live feeds.
 */
import { whenUnauthorized } from "./api.ts"
import * as Cart from "./cart.ts"
import { h, replace } from "./dom.ts"
import { go, navigated, type PageContext } from "./navigation.ts"
import { accountPage } from "./pages/account.ts"
import { adminPage } from "./pages/admin.ts"
import { cartPage } from "./pages/cart.ts"
import { catalogPage } from "./pages/catalog.ts"
import { checkoutPage } from "./pages/checkout.ts"
import { loginPage } from "./pages/login.ts"
import { orderPage } from "./pages/order.ts"
import { ordersPage } from "./pages/orders.ts"
import * as Session from "./session.ts"
import { clearToast, empty, heading } from "./ui.ts"

interface Route {
  readonly path: RegExp
  readonly title: string
  readonly render: (context: PageContext) => void | Promise<void>
  /** Needs a signed-in user (else: sign in first, then back here). */
  readonly auth?: boolean
  readonly admin?: boolean
}

const routes: ReadonlyArray<Route> = [
  { path: /^\/$/, title: "Catalog", render: catalogPage },
  { path: /^\/login$/, title: "Sign in", render: loginPage },
  { path: /^\/cart$/, title: "Cart", render: cartPage },
  { path: /^\/checkout$/, title: "Checkout", render: checkoutPage, auth: true },
  { path: /^\/orders$/, title: "My orders", render: ordersPage, auth: true },
  { path: /^\/orders\/([\w-]+)$/, title: "Order", render: orderPage, auth: true },
  { path: /^\/account$/, title: "Account", render: accountPage, auth: true },
  { path: /^\/admin$/, title: "Admin", render: adminPage, auth: true, admin: true }
]

const main = document.getElementById("main") as HTMLElement
const nav = document.getElementById("nav") as HTMLElement
let leave = new AbortController()

const notFound = (context: PageContext) =>
  replace(
    context.main,
    heading("Page not found"),
    empty(h("p", null, "There is nothing at this address."), h("a", { href: "/" }, "Go to the catalog"))
  )

const forbidden = (context: PageContext) =>
  replace(context.main, heading("Admins only"), empty(h("p", null, "This page is for the shop's administrators.")))

const link = (href: string, label: string | HTMLElement, current: string) =>
  h(
    "a",
    { href, "aria-current": href === current || (href !== "/" && current.startsWith(`${href}/`)) ? "page" : null },
    label
  )

/** The navigation bar, for who is signed in and what is in the cart. */
const renderNav = () => {
  const path = location.pathname
  const user = Session.current()
  const items = Cart.count()
  replace(
    nav,
    h(
      "ul",
      null,
      h("li", null, link("/", "Catalog", path)),
      h(
        "li",
        null,
        link(
          "/cart",
          h(
            "span",
            null,
            "Cart ",
            h("span", { class: "count" }, String(items)),
            h("span", { class: "visually-hidden" }, items === 1 ? " item" : " items")
          ),
          path
        )
      ),
      user === undefined ? null : h("li", null, link("/orders", "My orders", path)),
      user === undefined ? null : h("li", null, link("/account", "Account", path)),
      Session.isAdmin() ? h("li", null, link("/admin", "Admin", path)) : null,
      user === undefined
        ? h("li", null, link("/login", "Sign in", path))
        : h(
            "li",
            { class: "user" },
            h("span", { class: "email" }, user.email),
            h("button", { type: "button", class: "link-button", onclick: signOut }, "Sign out")
          )
    )
  )
}

const signOut = () => {
  Session.signOut()
  go("/")
}

/** The route of a path, with its parameters. */
const routeOf = (pathname: string): readonly [Route | undefined, ReadonlyArray<string>] => {
  const path = pathname.replace(/(.)\/$/, "$1")
  for (const route of routes) {
    const match = route.path.exec(path)
    if (match !== null) return [route, match.slice(1)]
  }
  return [undefined, []]
}

/** Renders the page for the current URL. */
const render = async (focus: boolean) => {
  leave.abort()
  leave = new AbortController()
  clearToast()
  const [route, params] = routeOf(location.pathname)
  renderNav()
  if (route?.auth === true && Session.current() === undefined) {
    go(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true })
    return
  }
  document.title = `${route?.title ?? "Not found"} — Agora shop`
  const context: PageContext = {
    main,
    params,
    query: new URLSearchParams(location.search),
    signal: leave.signal
  }
  const page = route === undefined ? notFound : route.admin === true && !Session.isAdmin() ? forbidden : route.render
  main.setAttribute("aria-busy", "true")
  replace(main)
  const signal = leave.signal
  try {
    await page(context)
  } finally {
    // A page left before it finished has no say over the next one's state.
    if (!signal.aborted) main.removeAttribute("aria-busy")
  }
  if (focus && !signal.aborted) (main.querySelector("h1") ?? main).focus()
}

// Same-origin links navigate in the app; modified clicks (new tab…) and downloads are left to the browser.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return
  const anchor = (event.target as Element | null)?.closest("a")
  if (anchor === null || anchor === undefined || anchor.target !== "" || anchor.hasAttribute("download")) return
  const url = new URL(anchor.href)
  if (url.origin !== location.origin || /^\/(api|docs|redoc|metrics)(\/|$)/.test(url.pathname)) return
  event.preventDefault()
  go(url.pathname + url.search)
})
window.addEventListener("popstate", () => void render(true))
window.addEventListener(navigated, () => void render(true))

Cart.onChange(renderNav)
Session.onChange(renderNav)
// An expired token: the user is signed out; a page that needs them sends them to sign in again.
whenUnauthorized(() => {
  Session.expired()
  if (routeOf(location.pathname)[0]?.auth === true) {
    go(`/login?expired=1&next=${encodeURIComponent(location.pathname)}`, { replace: true })
  }
})

void Session.restore().then(() => render(false))
