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
}

/**
 * The broker connection and a confirmed publisher. rabbitmq-client reconnects on its own and re-declares
 * what consumers declared; `publish` resolves only once the broker confirmed the message.
 */
export class Broker {
  readonly connection: Connection
  readonly #publisher: Publisher
  readonly #appId: string

  constructor(url: string, appId: string, log: Logger) {
    // noDelay: with Nagle's algorithm on (rabbitmq-client's default), a small publish waits for the
    // broker's delayed ACK: 40 ms added to every hop, measured as p50 ≈ 50 ms instead of ≈ 10 ms end to end.
    this.connection = new Connection({ url, connectionName: `herald-${process.pid}`, retryLow: 200, retryHigh: 3000, noDelay: true })
    this.connection.on('error', (err) => log.warn({ err: String(err) }, 'AMQP connection error, reconnecting'))
    this.#publisher = this.connection.createPublisher({ confirm: true, maxAttempts: 3 })
    this.#appId = appId
  }

  publish(message: OutgoingMessage): Promise<void> {
    const body = typeof message.body === 'string' ? Buffer.from(message.body, 'utf8') : message.body
    return this.#publisher.send(
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
      },
      body,
    )
  }

  get ready(): boolean {
    return this.connection.ready
  }

  async close(): Promise<void> {
    await this.#publisher.close()
    await this.connection.close()
  }
}
