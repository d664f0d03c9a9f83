import { currentSession } from './session.ts'

/** An answer of the API that is not 2xx, with its problem details (RFC 9457) when it sent some. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly title: string,
    readonly detail: string | undefined,
    readonly errors: unknown,
  ) {
    super(detail ?? title)
  }
}

/** Called when the API or its event stream says the session is no longer valid (expired, signed out elsewhere, revoked). */
let onUnauthorized: () => void = () => {}
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler
}
export const sessionEnded = () => onUnauthorized()

/** A server type (src/views.ts) as the API sends it: JSON, where each Date is an ISO-8601 string. */
export type AsJson<T> = T extends Date ? string : T extends (infer E)[] ? AsJson<E>[] : T extends object ? { [K in keyof T]: AsJson<T[K]> } : T

/** One call of the REST API under /api/v1 with the session's bearer token. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const token = init.token ?? currentSession()?.token
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`/api/v1${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  if (res.status === 204) return undefined as T
  const text = await res.text()
  const body = text === '' ? undefined : safeJson(text)
  if (!res.ok) {
    const p = (body ?? {}) as { code?: string; title?: string; detail?: string; errors?: unknown }
    if (res.status === 401 && init.token === undefined) onUnauthorized()
    throw new ApiError(res.status, p.code, p.title ?? res.statusText, p.detail, p.errors)
  }
  return body as T
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return { title: text.slice(0, 200) }
  }
}

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}
