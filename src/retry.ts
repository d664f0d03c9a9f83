/** Node.js socket error codes: the server is not there, or not yet. */
export const SOCKET_ERROR_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporarily)',
  EPIPE: 'connection closed',
}

/**
 * PostgreSQL SQLSTATEs of a server that is there but cannot serve now, or of a transaction that lost a race
 * (PostgreSQL's errcodes appendix). Class 08 (connection exception) is matched by its class.
 */
export const TRANSIENT_SQLSTATES: Readonly<Record<string, string>> = {
  '40001': 'serialization failure',
  '40P01': 'deadlock detected',
  '53300': 'too many connections',
  '57P01': 'the database is shutting down',
  '57P02': 'the database crashed',
  '57P03': 'the database is not accepting connections yet',
  '57P05': 'idle session timeout',
}

/** rabbitmq-client's codes of a connection or channel that went away under the call. */
const BROKER_ERROR_CODES: Readonly<Record<string, string>> = {
  CH_CLOSE: 'channel closed',
  CLOSED: 'channel closed',
  CLOSING: 'connection closing',
  CONN_CLOSE: 'connection closed by the broker',
  CONNECTION_TIMEOUT: 'connection timed out',
  SOCKET_TIMEOUT: 'connection timed out',
  READ_END: 'connection closed',
}

/**
 * Errors that mean "not now": the database or the broker is away, restarting or full, or a transaction lost
 * a race with another. Trying again is the cure and no message, request or delivery is at fault, so the
 * intake never dead-letters a message for one of these. Each code with what an operator reads.
 */
export const RETRYABLE_ERROR_CODES: Readonly<Record<string, string>> = { ...SOCKET_ERROR_CODES, ...TRANSIENT_SQLSTATES, ...BROKER_ERROR_CODES }

// Errors node-postgres and its pool throw without a code, and server messages read before the code is known.
const RETRYABLE_MESSAGES =
  /Connection terminated|terminating connection|the database system is (starting up|shutting down)|Client has encountered a connection error|timeout exceeded when trying to connect|connection timeout|CONNECTION_CLOSED/i

/**
 * Why `err` is worth retrying (what the table says, or the message of a coded-less connection error), or
 * undefined when it is not. Errors arrive wrapped (a relay round, a migration): the cause chain is read.
 */
export function retryableCause(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown }
    if (typeof code === 'string') {
      if (RETRYABLE_ERROR_CODES[code]) return RETRYABLE_ERROR_CODES[code]
      if (/^08[0-9A-Z]{3}$/.test(code)) return `connection exception (${code})`
    }
    const text = typeof message === 'string' ? message : typeof e === 'string' ? e : ''
    if (RETRYABLE_MESSAGES.test(text)) return text
  }
  return undefined
}

export const isRetryable = (err: unknown): boolean => retryableCause(err) !== undefined

export interface Backoff {
  firstMs: number
  maxMs: number
}

/**
 * The backoff of work that waits for the database or the broker to come back: 100 ms doubling up to 5 s, so a
 * short blip costs a few hundred milliseconds and a long outage ~12 tries a minute per loop.
 */
export const TRANSIENT_BACKOFF: Backoff = { firstMs: 100, maxMs: 5000 }

/**
 * The wait before retry number `attempt` (0 for the first): `firstMs` doubling up to `maxMs`, ±25 % jitter
 * so that the instances that failed together (a database restart) do not all come back in the same
 * millisecond. The same curve as a delivery's retries (senders/policy.ts), computed there in SQL.
 */
export function backoffDelay(attempt: number, { firstMs, maxMs }: Backoff): number {
  return Math.min(maxMs, firstMs * 2 ** attempt) * (0.75 + Math.random() * 0.5)
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
