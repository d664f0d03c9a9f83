import { Connection, type Publisher } from 'rabbitmq-client'
import type { Logger } from '../log.ts'

/** One message to publish, already serialized. */
export interface OutgoingMessage {
  exchange: string
  routingKey?: string
  headers: Record<string, unknown>
  body: string | Buffer
  priority?: number
  contentType?: string
  messageId?: string
  /**
   * The broker must route the message to at least one queue: an unroutable message (an exchange with no
   * queue bound) makes `publish` reject instead of being confirmed and dropped. Needs a `messageId`.
   */
  mandatory?: boolean
}

/**
 * The broker connection and a confirmed publisher. rabbitmq-client reconnects on its own and re-declares
 * what consumers declared; `publish` resolves only once the broker confirmed the message.
 */
export class Broker {
  readonly connection: Connection
  readonly #publisher: Publisher
  readonly #appId: string
  /** Mandatory messages the broker returned, by message id, until their publish settles. */
  readonly #returned = new Map<string, string>()

  /** `hosts`: `host:port` of every node of a RabbitMQ cluster (config.amqpHosts); `url` gives the rest. */
  constructor(url: string, appId: string, log: Logger, hosts?: readonly string[]) {
    // noDelay: with Nagle's algorithm on (rabbitmq-client's default), a small publish waits for the
    // broker's delayed ACK: 40 ms added to every hop, measured as p50 ≈ 50 ms instead of ≈ 10 ms end to end.
    // hosts: the client connects to the next node of the list on each (re)connect, so a lost node costs one
    // reconnect, and rabbitmq-client re-declares what the consumers declared on the node it reaches.
    // heartbeat: a node that stops answering without closing the socket (host powered off, network cut) is
    // given up after two missed heartbeats: 120 s with the client's 60 s, 20 s with 10 s (measured with a
    // SIGSTOPped node). `?heartbeat=N` in HERALD_AMQP_URL overrides it.
    this.connection = new Connection({ url, hosts: hosts && [...hosts], connectionName: `herald-${process.pid}`, heartbeat: 10, retryLow: 200, retryHigh: 3000, noDelay: true })
    this.connection.on('error', (err) => log.warn({ err }, 'AMQP connection error, reconnecting'))
    this.#publisher = this.connection.createPublisher({ confirm: true, maxAttempts: 3 })
    this.#publisher.on('basic.return', (msg) => {
      if (msg.messageId) this.#returned.set(msg.messageId, `${msg.replyCode} ${msg.replyText}`)
    })
    this.#appId = appId
  }

  async publish(message: OutgoingMessage): Promise<void> {
    const body = typeof message.body === 'string' ? Buffer.from(message.body, 'utf8') : message.body
    const confirmed = this.#publisher.send(
      {
        exchange: message.exchange,
        routingKey: message.routingKey ?? '',
        headers: message.headers,
        priority: message.priority ?? 0,
        durable: true,
        contentType: message.contentType ?? 'application/json',
        contentEncoding: 'UTF-8',
        appId: this.#appId,
        messageId: message.messageId,
        mandatory: message.mandatory,
      },
      body,
    )
    if (!message.mandatory || !message.messageId) return confirmed
    await confirmed
    // The broker sends basic.return before it confirms; rabbitmq-client emits it in a setImmediate that was
    // queued before this one.
    await new Promise((resolve) => setImmediate(resolve))
    const returned = this.#returned.get(message.messageId)
    if (returned === undefined) return
    this.#returned.delete(message.messageId)
    throw new UnroutableError(`exchange ${message.exchange} routed the message to no queue (${returned})`)
  }

  get ready(): boolean {
    return this.connection.ready
  }

  async close(): Promise<void> {
    await this.#publisher.close()
    await this.connection.close()
  }
}

/** A mandatory message the broker could not route to any queue. */
export class UnroutableError extends Error {
  override name = 'UnroutableError'
}
