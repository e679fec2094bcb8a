import { randomUUID } from "node:crypto"
import { WebhookSignature } from "@agora/edge"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { ConfigProvider, type Duration, Effect, Layer, Schedule, Schema } from "effect"
import { HttpClient, HttpClientRequest, HttpRouter, HttpServer } from "effect/http"
import { PaymentProviderContract, PaymentProviderSimulator } from "../src/index.ts"
import { type Attempt, CallbackReceiver, routes as receiverRoutes } from "./CallbackReceiver.ts"

const secret = "sim-test-secret"
const settings = {
  PAYMENT_PROVIDER_SECRET: secret,
  PAYMENT_SIMULATOR_DELAY: "20 millis",
  PAYMENT_SIMULATOR_SLOW_DELAY: "400 millis"
}
const simulator = (prefix: string, env: Record<string, string> = {}) =>
  PaymentProviderSimulator.layer({ prefix }).pipe(
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ...settings, ...env })))
  )

// One loopback server: the simulator twice (plain, and delivering every callback twice) and the receiver.
const TestServer = HttpRouter.serve(
  Layer.mergeAll(
    simulator("/sim/payment-provider"),
    simulator("/sim/twice", { PAYMENT_SIMULATOR_DUPLICATES: "1" }),
    receiverRoutes
  ),
  { disableListenLog: true, disableLogger: true }
).pipe(Layer.provideMerge(CallbackReceiver.layer), Layer.provideMerge(NodeHttpServer.layerTest))

const callbackUrl = (answer?: string) =>
  Effect.gen(function* () {
    const server = yield* HttpServer.HttpServer
    const port = server.address._tag === "UnixPathAddress" ? 0 : server.address.port
    return `http://127.0.0.1:${port}/receiver${answer === undefined ? "" : `?answer=${answer}`}`
  })

const paymentRequest = (cardToken: string, answer?: string) =>
  Effect.map(callbackUrl(answer), (callback_url) => ({
    payment_id: randomUUID(),
    order_id: randomUUID(),
    amount: "12.34",
    currency: "RUB",
    card_token: cardToken,
    callback_url
  }))

const post = (path: string, body: unknown) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const request = HttpClientRequest.post(path).pipe(
      typeof body === "string"
        ? HttpClientRequest.bodyText(body, "application/json")
        : HttpClientRequest.bodyJsonUnsafe(body)
    )
    const response = yield* client.execute(request)
    return { status: response.status, headers: response.headers, json: yield* response.json }
  })

const get = (path: string) =>
  Effect.gen(function* () {
    const response = yield* (yield* HttpClient.HttpClient).get(path)
    return { status: response.status, json: yield* response.json }
  })

const decodeAccepted = Schema.decodeUnknownSync(PaymentProviderContract.PaymentAccepted)
const decodeRecord = Schema.decodeUnknownSync(PaymentProviderContract.PaymentRecord)
const decodeCallback = Schema.decodeUnknownSync(Schema.fromJsonString(PaymentProviderContract.PaymentCallback))

/** The attempts seen for `paymentId` once there are at least `count` (fails after 5 s). */
const attemptsOnce = (paymentId: string, count: number) =>
  Effect.gen(function* () {
    const receiver = yield* CallbackReceiver
    const attempts = receiver.attemptsFor(paymentId)
    return attempts.length >= count ? attempts : yield* Effect.fail(`${attempts.length} of ${count} attempts`)
  }).pipe(Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 500 }), Effect.orDie)

/** The attempts seen for `paymentId` after `wait`. */
const attemptsAfter = (paymentId: string, wait: Duration.Input) =>
  Effect.andThen(
    Effect.sleep(wait),
    CallbackReceiver.use((receiver) => Effect.succeed(receiver.attemptsFor(paymentId)))
  )

const assertSigned = (attempt: Attempt) =>
  assert.strictEqual(WebhookSignature.verify(secret, attempt.body, attempt.signature)._tag, "Valid")

layer(TestServer, { excludeTestServices: true })("PaymentProviderSimulator", (it) => {
  describe("a payment with tok_ok", () => {
    it.effect("is accepted pending, then called back once, signed, with the payment's fields", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_ok")
        const response = yield* post("/sim/payment-provider/payments", request)
        assert.strictEqual(response.status, 202)
        const accepted = decodeAccepted(response.json)
        assert.strictEqual(accepted.status, "pending")
        assert.strictEqual(accepted.id, PaymentProviderSimulator.referenceOf(request.payment_id))

        const [attempt] = yield* attemptsOnce(request.payment_id, 1)
        assertSigned(attempt!)
        const callback = decodeCallback(attempt!.body)
        assert.deepStrictEqual(callback, {
          payment_id: request.payment_id,
          order_id: request.order_id,
          status: "succeeded",
          amount: "12.34",
          error_message: null,
          processed_at: callback.processed_at,
          provider_reference: accepted.id
        })
        assert.strictEqual(new Date(callback.processed_at).toISOString(), callback.processed_at)
        assert.lengthOf(yield* attemptsAfter(request.payment_id, "300 millis"), 1)

        const record = yield* get(`/sim/payment-provider/payments/${accepted.id}`)
        assert.deepStrictEqual(decodeRecord(record.json), {
          id: accepted.id,
          payment_id: request.payment_id,
          order_id: request.order_id,
          status: "succeeded",
          amount: "12.34"
        })
      })
    )
  })

  describe("a payment with tok_decline or an unknown token", () => {
    it.effect("is called back failed with the reason", () =>
      Effect.gen(function* () {
        const declined = yield* paymentRequest("tok_decline")
        const unknown = yield* paymentRequest("tok_what")
        yield* post("/sim/payment-provider/payments", declined)
        yield* post("/sim/payment-provider/payments", unknown)
        const [d] = yield* attemptsOnce(declined.payment_id, 1)
        const [u] = yield* attemptsOnce(unknown.payment_id, 1)
        assertSigned(d!)
        assert.deepInclude(decodeCallback(d!.body), { status: "failed", error_message: "card declined" })
        assert.deepInclude(decodeCallback(u!.body), { status: "failed", error_message: "unknown test token" })
        const record = yield* get(`/sim/payment-provider/payments/${declined.payment_id}`)
        assert.strictEqual(decodeRecord(record.json).status, "failed")
      })
    )
  })

  describe("a payment with tok_timeout", () => {
    it.effect("is never called back and stays pending", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_timeout")
        assert.strictEqual((yield* post("/sim/payment-provider/payments", request)).status, 202)
        assert.lengthOf(yield* attemptsAfter(request.payment_id, "500 millis"), 0)
        const record = yield* get(`/sim/payment-provider/payments/${request.payment_id}`)
        assert.strictEqual(decodeRecord(record.json).status, "pending")
      })
    )
  })

  describe("a payment with tok_slow", () => {
    it.effect("succeeds only after the slow delay", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_slow")
        yield* post("/sim/payment-provider/payments", request)
        assert.lengthOf(yield* attemptsAfter(request.payment_id, "150 millis"), 0)
        const [attempt] = yield* attemptsOnce(request.payment_id, 1)
        assert.strictEqual(decodeCallback(attempt!.body).status, "succeeded")
      })
    )
  })

  describe("callback delivery", () => {
    it.effect("retries a receiver answering 503 until it acknowledges, then stops", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_ok", "503,503,200")
        yield* post("/sim/payment-provider/payments", request)
        yield* attemptsOnce(request.payment_id, 3)
        const attempts = yield* attemptsAfter(request.payment_id, "800 millis")
        assert.deepStrictEqual(
          attempts.map((a) => a.answered),
          [503, 503, 200]
        )
        attempts.forEach(assertSigned)
        assert.strictEqual(new Set(attempts.map((a) => a.body)).size, 1)
      })
    )

    it.effect("retries 429 and 408 like 5xx", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_ok", "429,408,200")
        yield* post("/sim/payment-provider/payments", request)
        const attempts = yield* attemptsOnce(request.payment_id, 3)
        assert.deepStrictEqual(
          attempts.map((a) => a.answered),
          [429, 408, 200]
        )
      })
    )

    it.effect("stops at the first 422 (or any other 4xx but 408, 409, 429)", () =>
      Effect.gen(function* () {
        const mismatch = yield* paymentRequest("tok_ok", "422")
        const unauthorised = yield* paymentRequest("tok_decline", "401")
        yield* post("/sim/payment-provider/payments", mismatch)
        yield* post("/sim/payment-provider/payments", unauthorised)
        yield* attemptsOnce(mismatch.payment_id, 1)
        yield* attemptsOnce(unauthorised.payment_id, 1)
        assert.lengthOf(yield* attemptsAfter(mismatch.payment_id, "600 millis"), 1)
        assert.lengthOf(yield* attemptsAfter(unauthorised.payment_id, "0 millis"), 1)
      })
    )

    it.effect("delivers every callback twice, identically, at PAYMENT_SIMULATOR_DUPLICATES=1", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_ok")
        yield* post("/sim/twice/payments", request)
        const attempts = yield* attemptsOnce(request.payment_id, 2)
        assert.strictEqual(attempts[0]!.body, attempts[1]!.body)
        attempts.forEach(assertSigned)
        assert.lengthOf(yield* attemptsAfter(request.payment_id, "300 millis"), 2)
      })
    )
    it.effect("gives up pending callbacks when the layer closes", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_slow")
        // A second, short-lived server with its own simulator; the callback would reach the shared receiver.
        yield* Effect.scoped(
          Effect.gen(function* () {
            // Fresh: otherwise the test server's layers, memoised, would be shared and closed with it.
            const context = yield* Layer.build(
              Layer.fresh(
                HttpRouter.serve(simulator("/sim/short-lived"), { disableListenLog: true, disableLogger: true }).pipe(
                  Layer.provideMerge(NodeHttpServer.layerTest)
                )
              )
            )
            const response = yield* post("/sim/short-lived/payments", request).pipe(Effect.provideContext(context))
            assert.strictEqual(response.status, 202)
          })
        )
        assert.lengthOf(yield* attemptsAfter(request.payment_id, "700 millis"), 0)
      })
    )
  })

  describe("idempotency by payment_id", () => {
    it.effect("answers a repeat with the same reference and 200, and calls back once", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_ok")
        const first = yield* post("/sim/payment-provider/payments", request)
        const second = yield* post("/sim/payment-provider/payments", request)
        assert.strictEqual(first.status, 202)
        assert.strictEqual(second.status, 200)
        assert.strictEqual(decodeAccepted(second.json).id, decodeAccepted(first.json).id)
        yield* attemptsOnce(request.payment_id, 1)
        const third = yield* post("/sim/payment-provider/payments", request)
        assert.deepStrictEqual(third.json, { id: decodeAccepted(first.json).id, status: "succeeded" })
        assert.lengthOf(yield* attemptsAfter(request.payment_id, "300 millis"), 1)
      })
    )

    it.effect("refuses the same payment_id for another amount with 409", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_timeout")
        yield* post("/sim/payment-provider/payments", request)
        const reused = yield* post("/sim/payment-provider/payments", { ...request, amount: "99.00" })
        assert.strictEqual(reused.status, 409)
        assert.include(reused.json as object, { type: "about:blank", status: 409, title: "Conflict" })
      })
    )
  })

  describe("bad requests", () => {
    it.effect("answers a body that is not JSON with a 400 problem", () =>
      Effect.gen(function* () {
        const response = yield* post("/sim/payment-provider/payments", "{not json")
        assert.strictEqual(response.status, 400)
        assert.strictEqual(response.headers["content-type"], "application/problem+json")
        assert.deepStrictEqual(response.json, {
          type: "about:blank",
          title: "Bad Request",
          status: 400,
          detail: "The request body is not valid JSON"
        })
      })
    )

    it.effect("answers missing or malformed fields with a 422 problem listing them", () =>
      Effect.gen(function* () {
        const request = yield* paymentRequest("tok_ok")
        const { order_id: _, ...withoutOrder } = request
        const response = yield* post("/sim/payment-provider/payments", {
          ...withoutOrder,
          amount: "12.3",
          callback_url: "ftp://example.com/x"
        })
        assert.strictEqual(response.status, 422)
        assert.strictEqual(response.headers["content-type"], "application/problem+json")
        const problem = response.json as { status: number; errors: ReadonlyArray<{ path: ReadonlyArray<string> }> }
        assert.strictEqual(problem.status, 422)
        assert.sameMembers(
          problem.errors.map((e) => e.path.join(".")),
          ["order_id", "amount", "callback_url"]
        )
        assert.lengthOf(yield* attemptsAfter(request.payment_id, "100 millis"), 0)
      })
    )

    it.effect("answers an unknown payment with a 404 problem", () =>
      Effect.gen(function* () {
        const response = yield* get("/sim/payment-provider/payments/pi_sim_nothing")
        assert.strictEqual(response.status, 404)
        assert.include(response.json as object, { status: 404, title: "Not Found" })
      })
    )
  })
})
