import { Connection, type AsyncMessage, type Consumer } from 'rabbitmq-client'
import { NOTIFICATION_REQUEST_EXCHANGE, NOTIFIER_EVENT_EXCHANGE, SPECIFIC_RECIPIENT_REQUEST_EXCHANGE } from '../../src/amqp/topology.ts'

/**
 * A REGARDS-style client written from the seeds only: it publishes requests with the documented headers
 * and JSON bodies, and listens to NotifierEvents on its own queue.
 */
export class RegardsClient {
  readonly rabbit: Connection
  readonly #publisher
  readonly events: { headers: Record<string, unknown>; body: any; raw: AsyncMessage }[] = []
  readonly #consumers: Consumer[] = []
  readonly #waiters = new Set<() => void>()

  constructor(url: string) {
    this.rabbit = new Connection({ url, retryLow: 100, retryHigh: 1000, noDelay: true })
    this.rabbit.on('error', () => {})
    this.#publisher = this.rabbit.createPublisher({ confirm: true, maxAttempts: 5 })
  }

  /** Subscribes to NotifierEvents, as the REGARDS client NotificationEventHandler does. */
  async listenToEvents(queue = 'test.notifier-events'): Promise<void> {
    await this.rabbit.exchangeDeclare({ exchange: NOTIFIER_EVENT_EXCHANGE, type: 'fanout', durable: true })
    const consumer = this.rabbit.createConsumer(
      { queue, queueOptions: { durable: false, exclusive: true }, queueBindings: [{ queue, exchange: NOTIFIER_EVENT_EXCHANGE, routingKey: '' }], qos: { prefetchCount: 1000 } },
      async (msg) => {
        const text = Buffer.isBuffer(msg.body) ? msg.body.toString('utf8') : typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body)
        this.events.push({ headers: msg.headers ?? {}, body: JSON.parse(text), raw: msg })
        for (const wake of this.#waiters) wake()
      },
    )
    await new Promise<void>((resolve) => consumer.once('ready', () => resolve()))
    this.#consumers.push(consumer)
  }

  /** Collects the messages of a queue (a recipient's queue). */
  async collect(queue: string, into: AsyncMessage[]): Promise<void> {
    const consumer = this.rabbit.createConsumer({ queue, queueOptions: { passive: true }, qos: { prefetchCount: 1000 } }, async (msg) => {
      into.push(msg)
      for (const wake of this.#waiters) wake()
    })
    await new Promise<void>((resolve) => consumer.once('ready', () => resolve()))
    this.#consumers.push(consumer)
  }

  async publishRequest(opts: {
    tenant?: string
    requestId?: string
    owner?: string
    date?: string
    body?: unknown
    direct?: boolean
    priority?: number
    headers?: Record<string, unknown>
    rawBody?: Buffer
  }): Promise<void> {
    const headers: Record<string, unknown> = { ...opts.headers }
    if (opts.tenant !== undefined) headers['regards.tenant'] = opts.tenant
    if (opts.requestId !== undefined) headers['regards.request.id'] = opts.requestId
    if (opts.owner !== undefined) headers['regards.request.owner'] = opts.owner
    if (opts.date !== undefined) headers['regards.request.date'] = opts.date
    await this.#publisher.send(
      {
        exchange: opts.direct ? SPECIFIC_RECIPIENT_REQUEST_EXCHANGE : NOTIFICATION_REQUEST_EXCHANGE,
        headers,
        priority: opts.priority ?? 1,
        durable: true,
        contentType: 'application/json',
        contentEncoding: 'UTF-8',
      },
      opts.rawBody ?? Buffer.from(JSON.stringify(opts.body), 'utf8'),
    )
  }

  eventsFor(requestId: string) {
    return this.events.filter((e) => e.body.requestId === requestId)
  }

  /** Waits until `predicate` holds, re-checking on every received message (and every 50 ms). */
  async waitFor(predicate: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 50)
        const self = this
        function done() {
          clearTimeout(timer)
          self.#waiters.delete(done)
          resolve()
        }
        this.#waiters.add(done)
      })
    }
  }

  async close(): Promise<void> {
    for (const c of this.#consumers) await c.close()
    await this.#publisher.close()
    await this.rabbit.close()
  }
}
