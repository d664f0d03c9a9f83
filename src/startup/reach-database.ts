import { TRANSIENT_SQLSTATES } from '../retry.ts'
import { socketFailure, type Failure } from './wait-until-reachable.ts'

/** `127.0.0.1:5432` of a PostgreSQL URL: what start-up messages name (never the password). */
export function databaseAddress(url: string): string {
  try {
    const parsed = new URL(url)
    // postgres:///herald?host=/var/run/postgresql: a Unix socket directory.
    const host = parsed.searchParams.get('host') || parsed.hostname || 'localhost'
    return host.startsWith('/') ? host : `${host}:${parsed.port || 5432}`
  } catch {
    return 'an unparsable HERALD_DATABASE_URL'
  }
}

// SQLSTATEs of a server that refuses this login: no retry can help (those worth a retry: retry.ts).
const REFUSED = new Set(['3D000', '42501']) // invalid_catalog_name (no such database), insufficient_privilege (no CONNECT)

/**
 * How a failure to reach the database reads (PostgreSQL's own message for what it refused), and whether a
 * retry can help. Undefined when the error is not about reaching it (a migration that fails, say).
 */
export function explainDatabaseError(err: unknown): Failure | undefined {
  // Errors arrive wrapped (a migration that could not connect): the cause chain holds the driver's error.
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const socket = socketFailure(e)
    if (socket) return socket
    const { code, message } = e as { code?: unknown; message?: string }
    if (typeof code !== 'string') {
      if (/Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(message ?? '')) return { cause: String(message), retry: true }
      continue
    }
    // Class 08 (connection exception) and the server not ready: retry. Class 28 (authentication,
    // pg_hba, unknown role) and a missing database: no retry can help.
    if (code.startsWith('08') || TRANSIENT_SQLSTATES[code]) return { cause: String(message), retry: true }
    if (code.startsWith('28') || REFUSED.has(code)) return { cause: String(message), retry: false }
  }
  return undefined
}
