import type { Logger } from '../log.ts'
import { backoffDelay, SOCKET_ERROR_CODES } from '../retry.ts'

/**
 * A dependency Herald cannot start without is unreachable or refuses it: an expected condition, whose message
 * ("RabbitMQ at 127.0.0.1:5672: connection refused") says all an operator needs. Printed as one line, no stack.
 */
export class StartupError extends Error {
  override name = 'StartupError'
}

/** Why one attempt failed: the cause to print after the address, and whether trying again can help. */
export interface Failure {
  cause: string
  retry: boolean
}

export interface WaitOptions<T> {
  /** What is waited for, with its address and never a password: `RabbitMQ at 127.0.0.1:5672`. */
  what: string
  attempt: () => Promise<T>
  /** Undefined for an error that is not about reaching the dependency (thrown as it is). */
  explain: (err: unknown) => Failure | undefined
  /** Time (ms since the epoch) past which no attempt starts. */
  deadline: number
  /** For the messages: the HERALD_STARTUP_TIMEOUT_S the deadline comes from. */
  timeoutS: number
  log: Logger
  /** Aborted when start-up fails elsewhere: the waiting stops. */
  signal?: AbortSignal
}

// 250 ms doubling up to 5 s between attempts: a dependency that comes up is seen within 5 s, and one that
// stays down costs ~15 connection attempts a minute.
const ATTEMPT_BACKOFF = { firstMs: 250, maxMs: 5000 }

/**
 * Runs `attempt` until it succeeds. A failure that retrying can help (connection refused, host not found,
 * database starting up) is logged once per distinct cause and retried with backoff until the deadline; one
 * it cannot help (credentials, vhost or database refused) throws a StartupError at once. Stacks go to debug.
 */
export async function waitUntilReachable<T>(opts: WaitOptions<T>): Promise<T> {
  const { what, log } = opts
  let lastCause: string | undefined
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted()
    try {
      const result = await opts.attempt()
      if (lastCause !== undefined) log.info(`${what}: reachable after ${attempt} attempts`)
      return result
    } catch (err) {
      const failure = opts.explain(err)
      if (!failure) throw err
      log.debug({ err, attempt }, `${what}: attempt failed`)
      if (!failure.retry) throw new StartupError(`${what}: ${failure.cause}`)
      const remaining = opts.deadline - Date.now()
      if (remaining <= 0) throw new StartupError(`${what}: ${failure.cause}; gave up after ${opts.timeoutS} s (HERALD_STARTUP_TIMEOUT_S)`)
      if (failure.cause !== lastCause) log.warn(`${what}: ${failure.cause}; retrying for up to ${opts.timeoutS} s`)
      lastCause = failure.cause
      await sleep(Math.min(remaining, backoffDelay(attempt - 1, ATTEMPT_BACKOFF)), opts.signal)
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms)
    function done() {
      signal?.removeEventListener('abort', abort)
      resolve()
    }
    function abort() {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', abort, { once: true })
  })
}

/**
 * The cause of a socket-level failure (the server is not there, or not yet): worth retrying. Undefined when
 * `err` is not one.
 */
export function socketFailure(err: unknown): Failure | undefined {
  const code = (err as { code?: unknown })?.code
  const cause = typeof code === 'string' ? SOCKET_ERROR_CODES[code] : undefined
  return cause ? { cause, retry: true } : undefined
}
