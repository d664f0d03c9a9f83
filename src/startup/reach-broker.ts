import { Connection } from 'rabbitmq-client'
import { socketFailure, type Failure } from './wait-until-reachable.ts'

/** `127.0.0.1:5672` of an AMQP URL: what start-up messages name (never the password). */
export function brokerAddress(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname || 'localhost'}:${parsed.port || (parsed.protocol === 'amqps:' ? 5671 : 5672)}`
  } catch {
    return 'an unparsable HERALD_AMQP_URL'
  }
}

/**
 * One connection attempt, closed at once: resolves when the broker accepted the credentials and the vhost,
 * rejects with the first error otherwise. (The long-lived connection retries by itself and reports only its
 * first error, so it cannot tell "refused" from "down" at start.)
 */
export function reachBroker(url: string): Promise<void> {
  // connectionTimeout: a host that drops packets (firewall) fails the attempt instead of hanging it.
  const connection = new Connection({ url, connectionName: `herald-${process.pid}-start`, connectionTimeout: 10_000 })
  return new Promise<void>((resolve, reject) => {
    connection.on('connection', () => connection.close().then(resolve, resolve))
    connection.on('error', (err) => {
      connection.close().catch(() => {})
      reject(err)
    })
  })
}

/** How a failed attempt of {@link reachBroker} reads, and whether a retry can help. */
export function explainBrokerError(err: unknown, url: string): Failure | undefined {
  const socket = socketFailure(err)
  if (socket) return socket
  const { code, message } = err as { code?: string; message?: string }
  // rabbitmq-client prefixes the broker's reply with the AMQP method ("ConnectionOpen: NOT_ALLOWED - …").
  const reply = String(message ?? '').replace(/^\w+: /, '')
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  switch (code) {
    case 'ACCESS_REFUSED':
      return { cause: `login refused for user ${decodeURIComponent(parsed?.username || 'guest')} (${reply})`, retry: false }
    case 'NOT_ALLOWED':
      return { cause: `vhost ${decodeURIComponent(parsed?.pathname.slice(1) || '/')} refused (${reply})`, retry: false }
    case 'VERSION_MISMATCH':
    case 'COMMAND_INVALID':
      return { cause: `not an AMQP 0-9-1 broker (${reply})`, retry: false }
    case 'CONNECTION_TIMEOUT':
      return { cause: 'connection timed out', retry: true }
    case 'CONN_CLOSE':
    case 'SOCKET_TIMEOUT':
      return { cause: `connection closed by the broker (${reply})`, retry: true }
    default:
      return code ? { cause: `${code}: ${reply}`, retry: true } : undefined
  }
}
