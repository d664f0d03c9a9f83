import { Connection, type AsyncMessage, type Consumer, type ConsumerProps, type Publisher } from 'rabbitmq-client'

/** The REGARDS request headers a test client sets; unset ones are left out (to test their absence). */
export interface RequestHeaders {
  tenant?: string
  requestId?: string
  owner?: string
  date?: string
  headers?: Record<string, unknown>
}

/**
 * What the tests' REGARDS clients share: a connection, a confirmed publisher, consumers that wake
 * `waitFor` on every message, and one `close` for all of them.
 */
export class TestAmqpClient {
  readonly rabbit: Connection
  protected readonly publisher: Publisher
  readonly #consumers: Consumer[] = []
  readonly #waiters = new Set<() => void>()

  constructor(url: string) {
    this.rabbit = new Connection({ url, retryLow: 100, retryHigh: 1000, noDelay: true })
    this.rabbit.on('error', () => {})
    this.publisher = this.rabbit.createPublisher({ confirm: true, maxAttempts: 5 })
  }

  /** Consumes until `close()`; resolves once the consumer is ready. */
  protected async consume(props: ConsumerProps, onMessage: (msg: AsyncMessage) => void): Promise<void> {
    const consumer = this.rabbit.createConsumer(props, async (msg) => {
      onMessage(msg)
      for (const wake of this.#waiters) wake()
    })
    await new Promise<void>((resolve) => consumer.once('ready', () => resolve()))
    this.#consumers.push(consumer)
  }

  protected static headers(opts: RequestHeaders): Record<string, unknown> {
    const headers: Record<string, unknown> = { ...opts.headers }
    if (opts.tenant !== undefined) headers['regards.tenant'] = opts.tenant
    if (opts.requestId !== undefined) headers['regards.request.id'] = opts.requestId
    if (opts.owner !== undefined) headers['regards.request.owner'] = opts.owner
    if (opts.date !== undefined) headers['regards.request.date'] = opts.date
    return headers
  }

  /** Waits until `predicate` holds, re-checking on every received message (and every 50 ms). */
  async waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          this.#waiters.delete(done)
          resolve()
        }
        const timer = setTimeout(done, 50)
        this.#waiters.add(done)
      })
    }
  }

  async close(): Promise<void> {
    for (const c of this.#consumers) await c.close()
    await this.publisher.close()
    await this.rabbit.close()
  }
}
