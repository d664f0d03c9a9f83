/**
 * The signed-in session, kept in sessionStorage: it lives as long as the browser tab, never in a URL, a
 * cookie or a log. A session comes from a one-time code (`herald console`) or from a pasted bearer token.
 */
export interface Session {
  token: string
  tenant: string
  role: string
  /** Where it came from: a one-time code (revoked on the server at sign-out) or a pasted token. */
  kind: 'code' | 'token'
  /** Seconds since the epoch; undefined for a token without `exp`. */
  expiresAt?: number
}

const KEY = 'herald.session'
/** The deep link asked for before sign-in, opened once signed in. */
const NEXT = 'herald.next'

export function currentSession(): Session | undefined {
  const text = sessionStorage.getItem(KEY)
  if (!text) return undefined
  const session = JSON.parse(text) as Session
  if (session.expiresAt !== undefined && session.expiresAt * 1000 <= Date.now()) {
    sessionStorage.removeItem(KEY)
    return undefined
  }
  return session
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session))
}

export function forgetSession(): void {
  sessionStorage.removeItem(KEY)
}

export function rememberNext(path: string): void {
  sessionStorage.setItem(NEXT, path)
}

export function takeNext(): string | undefined {
  const next = sessionStorage.getItem(NEXT) ?? undefined
  sessionStorage.removeItem(NEXT)
  return next
}

/** The claims of a JWT, read without checking its signature (the API checks it on every call). */
export function readClaims(token: string): { tenant?: string; role?: string; exp?: number } | undefined {
  const part = token.split('.')[1]
  if (!part) return undefined
  try {
    return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')))
  } catch {
    return undefined
  }
}
