import { EventEmitter } from 'node:events'
import { Connection, type AsyncMessage, type Consumer, type ConsumerProps, type Publisher } from 'rabbitmq-client'
import type { WakeOn } from './wait-for.ts'

/** The REGARDS request headers a test client sets; unset ones are left out (to test their absence). */
export interface RequestHeaders {
  tenant?: string
  requestId?: string
  owner?: string
  date?: string
  headers?: Record<string, unknown>
}

/**
 * What the tests' REGARDS clients share: a connection, a confirmed publisher, consumers that announce every
 * message (`waitFor(..., { wakeOn: client.onMessage })`), and one `close` for all of them.
 */
export class TestAmqpClient {
  readonly rabbit: Connection
  protected readonly publisher: Publisher
  readonly #consumers: Consumer[] = []
  /** Each received message, once handled, wakes the waits given it as `wakeOn`. */
  readonly onMessage: WakeOn = { emitter: new EventEmitter().setMaxListeners(0), event: 'message' }

  /** Errors the consumers reported (a late ack after close()), kept for a test that wants to look. */
  readonly consumerErrors: unknown[] = []

  constructor(url: string) {
    this.rabbit = new Connection({ url, retryLow: 100, retryHigh: 1000, noDelay: true })
    this.rabbit.on('error', () => {})
    this.publisher = this.rabbit.createPublisher({ confirm: true, maxAttempts: 5 })
  }

  /** Consumes until `close()`; resolves once the consumer is ready. */
  protected async consume(props: ConsumerProps, onMessage: (msg: AsyncMessage) => void): Promise<void> {
    const consumer = this.rabbit.createConsumer(props, async (msg) => {
      onMessage(msg)
      this.onMessage.emitter.emit(this.onMessage.event)
    })
    // rabbitmq-client emits the ack of a message whose handler ended after close() (the channel is gone) as
    // an 'error' of the consumer: unheard, it became an unhandled rejection at the end of a test file.
    consumer.on('error', (err) => this.consumerErrors.push(err))
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

  async close(): Promise<void> {
    for (const c of this.#consumers) await c.close()
    await this.publisher.close()
    await this.rabbit.close()
  }
}
