import type { AsyncMessage } from 'rabbitmq-client'
import { NOTIFICATION_REQUEST_EXCHANGE, NOTIFIER_EVENT_EXCHANGE, SPECIFIC_RECIPIENT_REQUEST_EXCHANGE } from '../../src/amqp/topology.ts'
import { TestAmqpClient, type RequestHeaders } from './test-amqp-client.ts'

/**
 * A REGARDS-style client written from the seeds only: it publishes requests with the documented headers
 * and JSON bodies, and listens to NotifierEvents on its own queue.
 */
export class RegardsClient extends TestAmqpClient {
  readonly events: { headers: Record<string, unknown>; body: any; raw: AsyncMessage }[] = []

  /** Subscribes to NotifierEvents, as the REGARDS client NotificationEventHandler does. */
  async listenToEvents(queue = 'test.notifier-events'): Promise<void> {
    await this.rabbit.exchangeDeclare({ exchange: NOTIFIER_EVENT_EXCHANGE, type: 'fanout', durable: true })
    await this.consume(
      { queue, queueOptions: { durable: false, exclusive: true }, queueBindings: [{ queue, exchange: NOTIFIER_EVENT_EXCHANGE, routingKey: '' }], qos: { prefetchCount: 1000 } },
      (msg) => {
        const text = Buffer.isBuffer(msg.body) ? msg.body.toString('utf8') : typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body)
        this.events.push({ headers: msg.headers ?? {}, body: JSON.parse(text), raw: msg })
      },
    )
  }

  /** Collects the messages of a queue (a recipient's queue). */
  collect(queue: string, into: AsyncMessage[]): Promise<void> {
    return this.consume({ queue, queueOptions: { passive: true }, qos: { prefetchCount: 1000 } }, (msg) => into.push(msg))
  }

  async publishRequest(opts: RequestHeaders & { body?: unknown; direct?: boolean; priority?: number; rawBody?: Buffer }): Promise<void> {
    const headers = TestAmqpClient.headers(opts)
    await this.publisher.send(
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
}
