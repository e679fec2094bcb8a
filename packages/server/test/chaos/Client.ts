/**
 * The chaos suite's HTTP client, behaving as a careful real client does:
 * every request has a time limit, and a write carries an `Idempotency-Key`
 * and is sent again with the same key and body when it got no answer, a 5xx,
 * a 429 or a 409 "key still in use", until it gets a definitive answer or its
 * time runs out (then it is `unresolved`: it may or may not have happened).
 *
 * Every answer is counted by the phase of the scenario it came in (before,
 * during and after the fault) and by status. A 5xx other than 503 is always
 * an invariant violation (SPEC §8: an outage is a 503, never a 500); it is
 * kept with the request it answered.
 */
import { randomUUID } from "node:crypto"
import { sleep } from "./Concurrency.ts"

/** An answer; `status` 0 means none came (connection refused or reset, time limit). */
export interface Answer {
  readonly status: number
  // biome-ignore lint/suspicious/noExplicitAny: the suite reads whatever JSON came back
  readonly body: any
  readonly headers: Headers
  readonly contentType: string
}

export type Kind = "read" | "write"

/** What a write finally got: a 2xx (acknowledged), another definitive answer (rejected), or nothing sure. */
export type Outcome =
  | { readonly _tag: "acknowledged"; readonly answer: Answer; readonly attempts: number }
  | { readonly _tag: "rejected"; readonly answer: Answer; readonly attempts: number }
  | { readonly _tag: "unresolved"; readonly last: Answer; readonly attempts: number }

export interface RequestOptions {
  readonly token?: string
  readonly json?: unknown
  readonly headers?: Readonly<Record<string, string>>
  readonly timeoutMs?: number
}

/** Whether a write with this answer is worth sending again with the same key. */
const retryable = (answer: Answer): boolean =>
  answer.status === 0 ||
  answer.status >= 500 ||
  answer.status === 429 ||
  (answer.status === 409 && answer.body?.code === "idempotency_key_in_use")

export class Client {
  /** Requests sent (every attempt counts). */
  requests = 0
  /** Per phase and kind, how many answers had each status ("0" = no answer). */
  readonly statuses = new Map<string, Map<number, number>>()
  /** Answers with a 5xx other than 503, described. */
  readonly serverErrors: Array<string> = []
  /** 503s that were not `application/problem+json`. */
  readonly plain503: Array<string> = []
  /** The scenario's phase, set by the fault as it goes. */
  phase = "before"

  readonly base: () => string

  constructor(base: () => string) {
    this.base = base
  }

  /** One request, no retry. */
  async send(method: string, path: string, options: RequestOptions = {}, kind: Kind = "read"): Promise<Answer> {
    this.requests++
    let answer: Answer
    try {
      const response = await fetch(`${this.base()}${path}`, {
        method,
        headers: {
          ...(options.json === undefined ? {} : { "content-type": "application/json" }),
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...options.headers
        },
        ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000)
      })
      const text = await response.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {}
      answer = {
        status: response.status,
        body,
        headers: response.headers,
        contentType: response.headers.get("content-type") ?? ""
      }
    } catch {
      answer = { status: 0, body: undefined, headers: new Headers(), contentType: "" }
    }
    this.count(kind, answer, `${method} ${path}`)
    return answer
  }

  private count(kind: Kind, answer: Answer, request: string) {
    const key = `${this.phase}/${kind}`
    const byStatus = this.statuses.get(key) ?? new Map<number, number>()
    byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1)
    this.statuses.set(key, byStatus)
    if (answer.status >= 500 && answer.status !== 503) {
      this.serverErrors.push(`${request} answered ${answer.status} (${this.phase}): ${JSON.stringify(answer.body)}`)
    }
    if (answer.status === 503 && !answer.contentType.startsWith("application/problem+json")) {
      this.plain503.push(`${request} answered 503 as ${answer.contentType || "no content type"}`)
    }
  }

  /** How many answers of `kind` in `phase` had a status matching `which`. */
  countOf(phase: string, kind: Kind, which: (status: number) => boolean): number {
    let n = 0
    for (const [status, count] of this.statuses.get(`${phase}/${kind}`) ?? []) if (which(status)) n += count
    return n
  }

  /**
   * A POST with an idempotency key, sent again with the same key and body
   * while the answer is not definitive, for at most `budgetMs` (then
   * `unresolved`); `stop` ends the retries early (also `unresolved`).
   */
  async write(
    path: string,
    options: RequestOptions & { readonly key?: string; readonly budgetMs: number; readonly stop?: () => boolean }
  ): Promise<Outcome> {
    const key = options.key ?? randomUUID()
    const deadline = Date.now() + options.budgetMs
    let attempts = 0
    let pause = 100
    while (true) {
      attempts++
      const answer = await this.send(
        "POST",
        path,
        { ...options, headers: { ...options.headers, "idempotency-key": key } },
        "write"
      )
      if (answer.status >= 200 && answer.status < 300) return { _tag: "acknowledged", answer, attempts }
      if (!retryable(answer)) return { _tag: "rejected", answer, attempts }
      if (Date.now() + pause > deadline || options.stop?.() === true)
        return { _tag: "unresolved", last: answer, attempts }
      const after = Number(answer.headers.get("retry-after") ?? "")
      await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 1_000) : pause)
      pause = Math.min(pause * 2, 1_000)
    }
  }
}
