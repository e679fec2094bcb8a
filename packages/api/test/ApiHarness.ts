/**
 * The real API served on a random port over the real stack (PostgreSQL on a
 * fresh database, the event store, the actor runtime, the app services), and
 * a small JSON client for tests.
 */

import { randomUUID } from "node:crypto"
import { InProcessActorRuntime } from "@agora/actors"
import { Accounts, Catalog, OrderStatusFeed, Orders, Payments, ReadModels, Shipments, Users } from "@agora/app"
import { IdempotencyStore, PasswordHasher, RateLimiter, TokenService } from "@agora/edge"
import { Lease, PgEventStore } from "@agora/eventstore"
import { ReadModelConfig } from "@agora/readmodels"
import { makeRedisStore } from "@agora/readmodels/testing"
import { TestDatabase } from "@agora/testkit"
import { NodeHttpServer } from "@effect/platform-node"
import { assert } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { HttpClient, HttpClientRequest, HttpRouter } from "effect/http"
import { ApiLive } from "../src/index.ts"

export const adminEmail = "boss@example.com"
/** The secret the test server verifies payment webhooks with. */
export const webhookSecret = "test-webhook-secret"

/**
 * The server; `options.config` adds to (or overrides) its configuration, e.g.
 * a tiny `RATE_LIMIT_CAPACITY`. Rate limits live in Redis when `REDIS_URL` is
 * set (under a prefix of this server's own), in process otherwise.
 */
export const makeServer = (label: string, options: { readonly config?: Readonly<Record<string, string>> } = {}) => {
  const stores = Layer.merge(PgEventStore.layer(), Lease.layer).pipe(Layer.provideMerge(TestDatabase.layer(label)))
  const actors = InProcessActorRuntime.layer().pipe(Layer.provide(stores))
  const edge = Layer.mergeAll(PasswordHasher.layerTest, TokenService.layerTest("test-secret-test-secret-test-secret!!"))
  const app = Layer.mergeAll(
    Users.layer,
    Accounts.layer,
    Catalog.layer,
    Orders.layer,
    OrderStatusFeed.layer,
    Payments.layer,
    Shipments.layer
  ).pipe(
    // Redis when `REDIS_URL` is set (under a prefix of this server's own, see `config`), in process otherwise.
    Layer.provideMerge(ReadModels.layer.pipe(Layer.provideMerge(ReadModelConfig.layerFromConfig))),
    // Merged so that tests can set the stage through the actors (e.g. a payment the saga would create).
    Layer.provideMerge(actors),
    Layer.provide(stores),
    Layer.provide(edge)
  )
  const redisUrl = process.env.REDIS_URL
  const edgeStores = Layer.mergeAll(
    redisUrl ? RateLimiter.layerRedis : RateLimiter.layerMemory,
    IdempotencyStore.layer({ purgeEvery: "never" }).pipe(Layer.provide(stores))
  )
  const readModelPrefix = `agora-test:rm:${label}:${randomUUID()}:`
  // The server's read models are deleted from the machine's Redis once it has stopped (built first, released last).
  const readModelCleanup = redisUrl ? Layer.effectDiscard(makeRedisStore(redisUrl, readModelPrefix)) : Layer.empty
  const config = {
    ADMIN_EMAILS: adminEmail,
    PAYMENT_PROVIDER_SECRET: webhookSecret,
    // Test files send bursts from one address; the rate-limit tests set their own limits.
    RATE_LIMIT_CAPACITY: "1000000",
    RATE_LIMIT_REFILL_PER_SECOND: "1000000",
    ...(redisUrl
      ? {
          REDIS_URL: redisUrl,
          RATE_LIMIT_REDIS_PREFIX: `agora:test:${label}:${randomUUID()}:`,
          READ_MODEL_PREFIX: readModelPrefix
        }
      : {}),
    ...options.config
  }
  return HttpRouter.serve(ApiLive.routes, { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provide(ApiLive.middleware),
    Layer.provide(edgeStores),
    // Merged so that tests can set the stage through the app services (e.g. define products).
    Layer.provideMerge(app),
    Layer.provide(edge),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(config))),
    Layer.provide(readModelCleanup),
    Layer.orDie
  )
}

export interface Reply {
  readonly status: number
  readonly contentType: string
  /** The response's headers, by lower-case name. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read whatever JSON came back
  readonly body: any
}

/**
 * The highest `X-Position` this test file's writes were answered with. `call`
 * sends it as `X-Min-Position` on every read, as a client that wants to see its
 * own writes does: reads come from read models that trail the log slightly.
 */
let sessionPosition = 0

/** Notes a write's `X-Position` made outside `call` (raw requests), so later GETs read it. */
export const observePosition = (header: string | ReadonlyArray<string> | undefined): void => {
  const written = Number(Array.isArray(header) ? header[0] : (header ?? 0))
  if (written > sessionPosition) sessionPosition = written
}

/** Sends a request and reads the JSON (or text) reply, whatever its status. */
export const call = (
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  options: {
    readonly json?: unknown
    readonly text?: string
    readonly contentType?: string
    readonly form?: Record<string, string>
    readonly token?: string
    readonly headers?: Record<string, string>
  } = {}
) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(path)
    if (options.token !== undefined) request = HttpClientRequest.bearerToken(request, options.token)
    if (options.json !== undefined) request = HttpClientRequest.bodyJsonUnsafe(request, options.json)
    if (options.text !== undefined) {
      request = HttpClientRequest.bodyText(request, options.text, options.contentType ?? "application/json")
    }
    if (options.form !== undefined) request = HttpClientRequest.bodyUrlParams(request, options.form)
    if (method === "GET" && sessionPosition > 0) {
      request = HttpClientRequest.setHeader(request, "x-min-position", String(sessionPosition))
    }
    for (const [k, v] of Object.entries(options.headers ?? {})) request = HttpClientRequest.setHeader(request, k, v)
    const response = yield* http.execute(request)
    const written = Number(response.headers["x-position"] ?? 0)
    if (written > sessionPosition) sessionPosition = written
    const text = yield* response.text
    const contentType = response.headers["content-type"] ?? ""
    let body: unknown = text
    try {
      body = text === "" ? undefined : JSON.parse(text)
    } catch {}
    return { status: response.status, contentType, headers: response.headers, body } as Reply
  }).pipe(Effect.orDie)

/** Registers a user and signs in; returns the token and the user's id. */
export const signUp = (email: string, password = "correct horse battery") =>
  Effect.gen(function* () {
    const registered = yield* call("POST", "/api/auth/register", { json: { email, password } })
    const token = yield* call("POST", "/api/auth/token", { json: { username: email, password } })
    return { id: registered.body.id as string, token: token.body.access_token as string }
  })

/** The reply is an RFC 9457 problem with this status (and this `code`, when given). */
export const assertProblem = (reply: Reply, status: number, code?: string) => {
  assert.strictEqual(reply.status, status, JSON.stringify(reply.body))
  assert.include(reply.contentType, "application/problem+json")
  assert.strictEqual(reply.body.status, status)
  assert.isString(reply.body.title)
  assert.isString(reply.body.type)
  if (code !== undefined) assert.strictEqual(reply.body.code, code)
}
