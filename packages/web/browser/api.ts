/**
 * The API client: JSON in and out, the bearer token, problems turned into
 * `ApiError`, and the two guarantees the UI owes its user:
 *
 * - read-your-writes: every write answers `X-Position`; the highest seen is
 *   sent back as `X-Min-Position` on each read, so a page never shows data
 *   older than what this browser just wrote (the read models trail the log);
 * - one effect per intent: a POST that creates something carries an
 *   `Idempotency-Key`, the same one when the same body is sent again after a
 *   failure (a lost answer, a 5xx), a new one once it has succeeded.
 */
import type { Page, Problem } from "./types.ts"

const tokenKey = "agora.token"
const positionKey = "agora.position"

/** A failed request: the problem the API answered, or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number
  readonly problem: Problem
  constructor(status: number, problem: Problem) {
    super(problem.detail ?? problem.title ?? `Request failed (${status})`)
    this.status = status
    this.problem = problem
  }
  /** The problem's field errors by field name (the last segment of each path). */
  get fields(): ReadonlyMap<string, string> {
    const fields = new Map<string, string>()
    for (const error of this.problem.errors ?? []) {
      const name = [...error.path].reverse().find((segment) => typeof segment === "string")
      if (name !== undefined && !fields.has(name)) fields.set(name, error.message)
    }
    return fields
  }
}

/** Any failure as an `ApiError`, for display. */
export const asApiError = (error: unknown): ApiError =>
  error instanceof ApiError
    ? error
    : new ApiError(0, { detail: error instanceof Error ? error.message : "Something went wrong" })

export const token = (): string | undefined => localStorage.getItem(tokenKey) ?? undefined

/** Signs in or out; the position seen belongs to the session and goes with it. */
export const setToken = (value: string | undefined): void => {
  if (value === undefined) localStorage.removeItem(tokenKey)
  else localStorage.setItem(tokenKey, value)
  sessionStorage.removeItem(positionKey)
}

const position = (): number => Number(sessionStorage.getItem(positionKey) ?? 0)

const notePosition = (header: string | null) => {
  const seen = Number(header)
  if (Number.isSafeInteger(seen) && seen > position()) sessionStorage.setItem(positionKey, String(seen))
}

let onUnauthorized: () => void = () => {}
/** What to do when the token is refused (expired): the app sends the user to sign in. */
export const whenUnauthorized = (f: () => void): void => {
  onUnauthorized = f
}

/** A v4 UUID; `crypto.randomUUID` exists only in secure contexts, and the shop may be served over plain HTTP. */
export const newKey = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

// The key of the last unsucceeded attempt per intent ("checkout", "top-up"), with the body it was for.
const pending = new Map<string, { readonly body: string; readonly key: string }>()

export interface RequestOptions {
  readonly json?: unknown
  /** Names the intent of a POST that creates something: it gets an `Idempotency-Key`. */
  readonly idempotent?: string
  readonly signal?: AbortSignal
  /** Sent without the token (signing in: a refusal there says nothing about the current session). */
  readonly anonymous?: boolean
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** One API call; resolves with the JSON body, rejects with `ApiError`. */
export const request = async <A>(method: string, path: string, options: RequestOptions = {}): Promise<A> => {
  const body = options.json === undefined ? undefined : JSON.stringify(options.json)
  const headers: Record<string, string> = { accept: "application/json" }
  if (body !== undefined) headers["content-type"] = "application/json"
  const bearer = options.anonymous === true ? undefined : token()
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`
  if (method === "GET" && position() > 0) headers["x-min-position"] = String(position())
  let intent: { readonly body: string; readonly key: string } | undefined
  if (options.idempotent !== undefined) {
    const last = pending.get(options.idempotent)
    intent = last !== undefined && last.body === (body ?? "") ? last : { body: body ?? "", key: newKey() }
    pending.set(options.idempotent, intent)
    headers["idempotency-key"] = intent.key
  }

  for (let attempt = 1; ; attempt++) {
    let response: Response
    try {
      response = await fetch(path, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(options.signal === undefined ? {} : { signal: options.signal })
      })
    } catch (error) {
      if (options.signal?.aborted) throw error
      throw new ApiError(0, { detail: "The shop cannot be reached. Check your connection and try again." })
    }
    notePosition(response.headers.get("x-position"))
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text === "" ? undefined : JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (response.ok) {
      if (options.idempotent !== undefined) pending.delete(options.idempotent)
      return parsed as A
    }
    const problem = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Problem
    // The read model had not caught up within the server's patience: it says when to ask again.
    if (response.status === 503 && problem.code === "read_model_behind" && attempt < 3) {
      await sleep(1000)
      continue
    }
    if (response.status === 401 && bearer !== undefined) {
      setToken(undefined)
      onUnauthorized()
    }
    throw new ApiError(response.status, { status: response.status, ...problem })
  }
}

export const get = <A>(path: string, signal?: AbortSignal): Promise<A> =>
  request<A>("GET", path, signal === undefined ? {} : { signal })

/** Every page of a list (for short lists: the catalog, an order's history). */
export const getAll = async <A>(path: string, signal?: AbortSignal): Promise<ReadonlyArray<A>> => {
  const items: Array<A> = []
  let cursor: string | null = null
  do {
    const separator = path.includes("?") ? "&" : "?"
    const page: Page<A> = await get<Page<A>>(
      `${path}${separator}limit=100${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
      signal
    )
    items.push(...page.data)
    cursor = page.next_cursor
  } while (cursor !== null)
  return items
}
