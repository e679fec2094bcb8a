/**
 * A webhook receiver for the payment simulator's tests, served on the same
 * loopback server: `POST /receiver?answer=503,503,200` records every
 * attempt (raw body, signature header, the status it answered) by payment
 * id, and answers each successive attempt for a payment with the next
 * status of `answer` (the last one repeating; 200 when absent).
 */
import { Context, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"

export interface Attempt {
  readonly body: string
  readonly signature: string | undefined
  readonly answered: number
}

export class CallbackReceiver extends Context.Service<
  CallbackReceiver,
  {
    readonly attemptsFor: (paymentId: string) => ReadonlyArray<Attempt>
    readonly record: (paymentId: string, attempt: Attempt) => void
  }
>()("test/CallbackReceiver") {
  static readonly layer = Layer.sync(CallbackReceiver, () => {
    const attempts = new Map<string, Array<Attempt>>()
    return CallbackReceiver.of({
      attemptsFor: (paymentId) => [...(attempts.get(paymentId) ?? [])],
      record: (paymentId, attempt) => {
        attempts.set(paymentId, [...(attempts.get(paymentId) ?? []), attempt])
      }
    })
  })
}

const PaymentIdOnly = Schema.fromJsonString(Schema.Struct({ payment_id: Schema.String }))

/** The route at `/receiver`, recording into `CallbackReceiver`. */
export const routes = HttpRouter.use((router) =>
  Effect.gen(function* () {
    const receiver = yield* CallbackReceiver
    yield* router.add(
      "POST",
      "/receiver",
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const body = yield* request.text
        const { payment_id } = yield* Schema.decodeUnknownEffect(PaymentIdOnly)(body)
        const plan = (new URL(request.url, "http://receiver").searchParams.get("answer") ?? "200")
          .split(",")
          .map(Number)
        const answered = plan[Math.min(receiver.attemptsFor(payment_id).length, plan.length - 1)] ?? 200
        receiver.record(payment_id, { body, signature: request.headers["x-signature"], answered })
        return HttpServerResponse.empty({ status: answered })
      }).pipe(Effect.orDie)
    )
  })
)
