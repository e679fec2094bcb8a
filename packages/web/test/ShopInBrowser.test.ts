/**
 * The shop in a real browser: headless Chromium (Debian's `chromium`, driven
 * by playwright-core) against the real server process on a fresh database,
 * with the built-in payment provider and shipping service. A customer
 * registers, tops up, fills the cart, checks out and watches the order reach
 * SHIPPED without reloading; a declined card ends CANCELLED with its reason
 * (on a phone-sized screen); nobody sees someone else's order; the admin
 * restocks. Screenshots go to `packages/web/test-results/` (git-ignored).
 *
 * Without Chromium the tests are skipped, saying why (`.ci/run` installs it).
 */
import { existsSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { TestDatabase } from "@agora/testkit"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { type Browser, chromium, type Page } from "playwright-core"
import { type ServerProcess, start } from "./ServerProcess.ts"

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const chromiumMissing = existsSync(executablePath)
  ? undefined
  : `no Chromium at ${executablePath} (apt-get install -y chromium, or set CHROMIUM_PATH)`
const screenshots = fileURLToPath(new URL("../test-results/", import.meta.url))

const password = "correct horse battery"
const admin = { email: "admin@shop.test", password: "admin-password-123" }

class Server extends Context.Service<Server, ServerProcess>()("test/Server") {}
class Chromium extends Context.Service<Chromium, Browser>()("test/Chromium") {}

const ServerLive = Layer.effect(
  Server,
  Effect.gen(function* () {
    const database = yield* TestDatabase.create("web-e2e")
    return yield* start({
      DATABASE_URL: database,
      REDIS_URL: "",
      AMQP_URL: "",
      KAFKA_BROKERS: "",
      JWT_SECRET: "web-e2e-secret-web-e2e-secret-0123456789",
      PAYMENT_PROVIDER_SECRET: "web-e2e-webhook-secret",
      ADMIN_EMAILS: admin.email,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      PAYMENT_SIMULATOR_DELAY: "20 millis",
      // Long enough for the page to show PAID before SHIPPED arrives on the feed.
      SHIPPING_SIMULATOR_DELAY: "2 seconds",
      RATE_LIMIT_CAPACITY: "1000000",
      RATE_LIMIT_REFILL_PER_SECOND: "1000000"
    })
  })
)

const ChromiumLive = Layer.effect(
  Chromium,
  Effect.acquireRelease(
    Effect.promise(() =>
      chromium.launch({
        executablePath,
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
      })
    ),
    (browser) => Effect.promise(() => browser.close())
  )
)

/** A browser profile of its own (its own localStorage: cart, token) with one page; script errors are collected. */
const shopper = async (browser: Browser, viewport = { width: 1280, height: 800 }) => {
  const context = await browser.newContext({ viewport })
  const page = await context.newPage()
  const errors: Array<string> = []
  page.on("pageerror", (error) => errors.push(error.message))
  return { page, errors, close: () => context.close() }
}

/** Runs a browser scenario; on failure, a screenshot of each open page and the server's last lines. */
const scenario = (name: string, run: (server: ServerProcess, browser: Browser) => Promise<void>) =>
  Effect.gen(function* () {
    const server = yield* Server
    const browser = yield* Chromium
    yield* Effect.tryPromise({
      try: async () => {
        mkdirSync(screenshots, { recursive: true })
        try {
          await run(server, browser)
        } catch (error) {
          const pages = browser.contexts().flatMap((context) => context.pages())
          await Promise.all(
            pages.map((page, i) =>
              page.screenshot({ path: join(screenshots, `failed-${name}-${i}.png`) }).catch(() => {})
            )
          )
          throw error
        }
      },
      catch: (error) => new Error(`${String(error)}\n--- server output ---\n${server.output().slice(-4000)}`)
    })
  })

const newEmail = (who: string) => `${who}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@shop.test`

const register = async (page: Page, url: string, email: string) => {
  await page.goto(`${url}/login`)
  const form = page.getByRole("form", { name: "Create an account" })
  await form.getByLabel("Email").fill(email)
  await form.getByLabel("Password").fill(password)
  await form.getByRole("button", { name: "Create account" }).click()
  await page.getByRole("heading", { level: 1, name: "Catalog" }).waitFor()
}

const orderStatus = (page: Page) => page.getByTestId("order-status")

/** How far the page is wider than the screen (0: no sideways scrolling). */
const overflow = (page: Page) =>
  page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth")

/** Form controls that no label names. */
const unlabelled = (page: Page) =>
  page.evaluate<Array<string>>(
    `[...document.querySelectorAll("input, select, textarea")]
      .filter((el) => el.labels.length === 0 && !el.hasAttribute("aria-label"))
      .map((el) => el.outerHTML)`
  )

const historyTypes = (page: Page) =>
  page.locator(".history li").evaluateAll((items) => items.map((item) => item.getAttribute("data-type")))

/** One API call, for what a test needs done outside the browser. */
const api = async (url: string, method: string, path: string, options: { token?: string; json?: unknown } = {}) => {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(options.json === undefined ? {} : { "content-type": "application/json" }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` })
    },
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) })
  })
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back
  return { status: response.status, body: (await response.json()) as any }
}

if (chromiumMissing !== undefined) {
  console.warn(`web: the browser tests are skipped: ${chromiumMissing}`)
  describe.skip("the shop in a browser", () => {
    it(`needs Chromium: ${chromiumMissing}`, () => {})
  })
} else {
  layer(Layer.mergeAll(ServerLive, ChromiumLive), { excludeTestServices: true, timeout: "180 seconds" })(
    "the shop in a browser",
    (it) => {
      it.effect(
        "register → top up → two products → checkout → the order page follows it live to SHIPPED",
        () =>
          scenario("happy-path", async ({ url }, browser) => {
            const { page, errors, close } = await shopper(browser)
            await page.goto(url)
            await page.keyboard.press("Tab")
            assert.strictEqual(await page.locator(":focus").textContent(), "Skip to content")
            await register(page, url, newEmail("buyer"))

            await page.getByRole("link", { name: "Account" }).click()
            await page.getByRole("button", { name: "Open an account" }).click()
            await page.getByLabel(/Amount/).fill("20000")
            const toppedUp = page.waitForResponse((response) => response.url().endsWith("/api/accounts/me/top-up"))
            const ledgerRead = page.waitForRequest((request) => request.url().includes("/api/accounts/me/transactions"))
            await page.getByRole("button", { name: "Top up" }).click()
            await page.getByTestId("balance").filter({ hasText: "RUB 20,000.00" }).waitFor()
            await page.getByRole("cell", { name: "Top-up" }).waitFor()
            // The write carried an idempotency key; the read after it asked for at least the write's position.
            const topUp = await toppedUp
            assert.match(topUp.request().headers()["idempotency-key"] ?? "", /^[0-9a-f-]{36}$/)
            const written = Number(await topUp.headerValue("x-position"))
            assert.isAbove(written, 0)
            assert.isAtLeast(Number((await ledgerRead).headers()["x-min-position"]), written)

            await page.getByRole("link", { name: "Catalog" }).click()
            await page.getByRole("button", { name: "Add Engine oil filter to cart" }).click()
            // The second one by keyboard.
            await page.getByRole("button", { name: "Add Front brake pads, ceramic (axle set) to cart" }).focus()
            await page.keyboard.press("Enter")
            await page.getByText("1 in your cart").nth(1).waitFor()
            assert.deepStrictEqual(await unlabelled(page), [])
            await page.getByRole("status").filter({ hasText: "added to your cart" }).waitFor({ state: "hidden" })
            await page.screenshot({ path: join(screenshots, "catalog.png"), fullPage: true })

            await page.getByRole("link", { name: /^Cart/ }).click()
            await page.getByTestId("cart-total").filter({ hasText: "RUB 4,102.30" }).waitFor()
            assert.strictEqual(await page.locator("tbody tr").count(), 2)
            await page.getByRole("link", { name: "Checkout" }).click()
            const payFromAccount = page.getByRole("radio", { name: "Pay from my account" })
            await payFromAccount.waitFor()
            assert.isTrue(await payFromAccount.isChecked(), "the account pays when it holds enough")

            const feed = page.waitForRequest((request) => request.url().includes("/live?access_token="))
            const placing = page.waitForRequest(
              (request) => request.method() === "POST" && request.url().endsWith("/api/orders")
            )
            await page.getByRole("button", { name: "Place order" }).click()
            const placed = await placing
            assert.isDefined(placed.headers()["idempotency-key"])
            assert.deepInclude(placed.postDataJSON(), { payment_method: "account", total_price: "4102.30" })
            await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/)
            await page.evaluate("window.agoraMarker = 'not reloaded'")
            assert.strictEqual((await feed).headers().accept, "text/event-stream")

            // Every status the page shows, until SHIPPED.
            const seen: Array<string> = []
            const deadline = Date.now() + 30_000
            while (seen.at(-1) !== "Shipped" && Date.now() < deadline) {
              const status = (await orderStatus(page).textContent({ timeout: 5_000 })) ?? ""
              if (status !== seen.at(-1)) seen.push(status)
              await page.waitForTimeout(50)
            }
            assert.strictEqual(seen.at(-1), "Shipped", `statuses seen: ${seen.join(" → ")}`)
            assert.isAbove(seen.length, 1, `the page showed an earlier status first: ${seen.join(" → ")}`)
            assert.strictEqual(await page.evaluate("window.agoraMarker"), "not reloaded")
            assert.isEmpty(await page.getByTestId("status-reason").all())

            await page.locator(".history li").nth(3).waitFor()
            assert.deepStrictEqual(await historyTypes(page), [
              "OrderPlaced",
              "OrderReserved",
              "OrderPaid",
              "OrderShipped"
            ])
            await page.getByText("Tracking number TRK-").waitFor()
            await page.screenshot({ path: join(screenshots, "order-live.png"), fullPage: true })

            await page.getByRole("link", { name: "My orders", exact: true }).click()
            await page.locator("tbody tr").first().getByText("Shipped").waitFor()
            await page.getByRole("link", { name: "Account" }).click()
            await page.getByTestId("balance").filter({ hasText: "RUB 15,897.70" }).waitFor()
            await page.getByRole("cell", { name: "Payment" }).waitFor()
            await page.screenshot({ path: join(screenshots, "account.png"), fullPage: true })
            assert.deepStrictEqual(errors, [])
            await close()
          }),
        120_000
      )

      it.effect(
        "a declined card (tok_decline) ends CANCELLED with its reason, on a phone-sized screen",
        () =>
          scenario("declined", async ({ url }, browser) => {
            const { page, errors, close } = await shopper(browser, { width: 375, height: 740 })
            await register(page, url, newEmail("declined"))
            assert.strictEqual(await overflow(page), 0, "catalog")
            await page.getByRole("button", { name: "Add Engine air filter to cart" }).click()
            await page.getByRole("link", { name: /^Cart/ }).click()
            await page.getByTestId("cart-total").waitFor()
            assert.strictEqual(await overflow(page), 0, "cart")
            await page.getByRole("link", { name: "Checkout" }).click()
            await page.getByRole("radio", { name: "Pay by card" }).check()
            await page.getByLabel("Test card").selectOption("tok_decline")
            assert.strictEqual(await overflow(page), 0, "checkout")
            assert.deepStrictEqual(await unlabelled(page), [])
            await page.getByRole("button", { name: "Place order" }).click()

            await orderStatus(page).filter({ hasText: "Cancelled" }).waitFor({ timeout: 20_000 })
            assert.strictEqual(await page.getByTestId("status-reason").textContent(), "The card was declined.")
            await page.locator('.history li[data-type="OrderCancelled"]').waitFor()
            await page.getByText("This order is final.").waitFor()
            assert.strictEqual(await overflow(page), 0, "order")
            await page.screenshot({ path: join(screenshots, "order-declined-phone.png"), fullPage: true })
            assert.deepStrictEqual(errors, [])
            await close()
          }),
        120_000
      )

      it.effect(
        "someone else's order is not found, and their own list is empty",
        () =>
          scenario("not-yours", async ({ url }, browser) => {
            const owner = newEmail("owner")
            await api(url, "POST", "/api/auth/register", { json: { email: owner, password } })
            const token = (await api(url, "POST", "/api/auth/token", { json: { username: owner, password } })).body
              .access_token as string
            const placed = await api(url, "POST", "/api/orders", {
              token,
              json: { items: [{ sku: "OIL-FLT-003", quantity: 1 }], payment_method: "card", card_token: "tok_ok" }
            })
            assert.strictEqual(placed.status, 202)

            const { page, errors, close } = await shopper(browser)
            await register(page, url, newEmail("stranger"))
            await page.goto(`${url}/orders/${placed.body.id}`)
            await page.getByRole("heading", { level: 1, name: "Order not found" }).waitFor()
            assert.strictEqual(await page.getByText("Engine oil filter").count(), 0)
            await page.screenshot({ path: join(screenshots, "order-not-found.png") })
            await page.getByRole("link", { name: "My orders", exact: true }).click()
            await page.getByText("You have not ordered anything yet.").waitFor()
            assert.deepStrictEqual(errors, [])
            await close()
          }),
        120_000
      )

      it.effect(
        "the admin restocks a product; a 422 shows the API's message under its field",
        () =>
          scenario("admin", async ({ url }, browser) => {
            const { page, errors, close } = await shopper(browser)
            await page.goto(`${url}/login?next=/admin`)
            const form = page.getByRole("form", { name: "Sign in" })
            await form.getByLabel("Email").fill(admin.email)
            await form.getByLabel("Password").fill(admin.password)
            await form.getByRole("button", { name: "Sign in" }).click()
            await page.getByRole("heading", { level: 1, name: "Admin" }).waitFor()

            const restock = page.getByRole("form", { name: "Restock" })
            await restock.getByLabel("Product").selectOption("TMG-BLT-KIT-007")
            await restock.getByLabel("Quantity to add").fill("0")
            await restock.getByRole("button", { name: "Restock" }).click()
            await restock.getByRole("alert").waitFor()
            assert.strictEqual(await restock.getByLabel("Quantity to add").getAttribute("aria-invalid"), "true")

            await restock.getByLabel("Quantity to add").fill("5")
            await restock.getByRole("button", { name: "Restock" }).click()
            await page.getByTestId("stock-available").filter({ hasText: /^30$/ }).waitFor()
            assert.deepStrictEqual(await unlabelled(page), [])
            assert.deepStrictEqual(errors, [])
            await close()
          }),
        120_000
      )
    }
  )
}
