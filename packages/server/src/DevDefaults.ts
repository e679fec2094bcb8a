/**
 * The embedded development start needs no configuration: when `DATABASE_URL`
 * is unset, configuration that production must set falls back to development
 * values — a JWT secret generated once and kept in `.data/dev-secrets.json`
 * (so tokens survive a restart), and the demo admin `admin@example.com` /
 * `admin-password-123`, the payment webhook secret `dev-webhook-secret`, and CORS open to any origin (`CORS_ORIGINS=*`, for a
 * UI dev server on another port), and the demo users (`DemoUsersSeed`) seeded
 * at start with the password `demo-password-123` — with a loud warning.
 * Variables that are set always win.
 */

import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { Config, ConfigProvider, Effect, Layer, Option } from "effect"

export const devAdmin = { email: "admin@example.com", password: "admin-password-123" }
/** The payment webhook's secret in development (SPEC §3), shared with the built-in payment simulator. */
export const devWebhookSecret = "dev-webhook-secret"
/** The demo users' password in development (`DEMO_PASSWORD`). */
export const devDemoPassword = "demo-password-123"

const devSecret = (dataDir: string): string => {
  const file = join(dataDir, "dev-secrets.json")
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, "utf8")) as { jwtSecret?: string }
    if (typeof stored.jwtSecret === "string" && stored.jwtSecret.length >= 32) return stored.jwtSecret
  }
  const jwtSecret = randomBytes(48).toString("base64url")
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify({ jwtSecret }), { mode: 0o600 })
  return jwtSecret
}

/**
 * Adds the development fallbacks when running on the embedded database;
 * nothing otherwise. A process with only the simulators (`ROLE=simulators`)
 * gets the one it uses, the webhook secret, and writes nothing.
 */
export const layer = (dataDir: string, scope: "server" | "simulators" = "server") =>
  Layer.unwrap(
    Effect.gen(function* () {
      const databaseUrl = yield* Config.option(Config.String("DATABASE_URL"))
      if (Option.isSome(databaseUrl) && databaseUrl.value !== "") return Layer.empty
      if (scope === "simulators") {
        yield* Effect.logWarning(
          `DEVELOPMENT DEFAULTS: webhook secret "${devWebhookSecret}" unless PAYMENT_PROVIDER_SECRET is set. Never use it outside development.`
        )
        return ConfigProvider.layerAdd(ConfigProvider.fromUnknown({ PAYMENT_PROVIDER_SECRET: devWebhookSecret }))
      }
      yield* Effect.logWarning(
        `DEVELOPMENT DEFAULTS: JWT secret from ${join(dataDir, "dev-secrets.json")}, demo admin ${devAdmin.email} / ${devAdmin.password}, webhook secret "${devWebhookSecret}", CORS open to any origin, demo users alice@demo.agora / bob@demo.agora with password ${devDemoPassword}. Never use these outside development.`
      )
      return ConfigProvider.layerAdd(
        ConfigProvider.fromUnknown({
          JWT_SECRET: devSecret(dataDir),
          ADMIN_EMAIL: devAdmin.email,
          ADMIN_PASSWORD: devAdmin.password,
          ADMIN_EMAILS: devAdmin.email,
          CORS_ORIGINS: "*",
          PAYMENT_PROVIDER_SECRET: devWebhookSecret,
          DEMO_PASSWORD: devDemoPassword,
          SEED_DEMO_USERS: "true"
        })
      )
    })
  )
