import { randomUUID } from 'node:crypto'
import type { AsyncMessage } from 'rabbitmq-client'
import {
  NOTIFICATION_REQUEST_EXCHANGE,
  NOTIFIER_EVENT_EXCHANGE,
  NOTIFIER_EVENT_TYPE,
  SPECIFIC_RECIPIENT_REQUEST_EXCHANGE,
} from '../../src/amqp/topology.ts'
import {
  FEATURE_ACK_EXCHANGE,
  FEATURE_ACK_TYPE,
  FEATURE_CREATION_EXCHANGE,
  FEATURE_DELETION_EXCHANGE,
  FEATURE_NOTIFICATION_EXCHANGE,
  FEATURE_REQUEST_EVENT_EXCHANGE,
  FEATURE_UPDATE_EXCHANGE,
  INGEST_ACK_EXCHANGE,
  INGEST_ACK_TYPE,
} from '../../src/catalog/topology.ts'
import { TestAmqpClient, type RequestHeaders } from './test-amqp-client.ts'

export interface Received {
  headers: Record<string, unknown>
  body: any
  raw: AsyncMessage
  at: number
}

/** The JSON body, or the raw text when it is not JSON (dead-lettered messages may not be). */
const decode = (msg: AsyncMessage) => {
  const text = Buffer.isBuffer(msg.body) ? msg.body.toString('utf8') : typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body)
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * A REGARDS FEM client written from the seeds and the reference: publishes creation, patch, deletion and
 * notification requests and acks with the documented headers, and listens to FeatureRequestEvents. It can also
 * listen to what the catalog sends the notifier, and answer as a notifier would (NotifierEvent).
 */
export class CatalogClient extends TestAmqpClient {
  readonly responses: Received[] = []
  readonly toNotifier: Received[] = []

  async #listen(exchanges: string[], into: Received[]): Promise<void> {
    const queue = `test.catalog.${randomUUID()}`
    for (const exchange of exchanges) await this.rabbit.exchangeDeclare({ exchange, type: 'fanout', durable: true })
    await this.consume(
      { queue, queueOptions: { exclusive: true }, queueBindings: exchanges.map((exchange) => ({ queue, exchange, routingKey: '' })), qos: { prefetchCount: 2000 } },
      (msg) => into.push({ headers: msg.headers ?? {}, body: decode(msg), raw: msg, at: Date.now() }),
    )
  }

  /** Subscribes to FeatureRequestEvents, on its own queue. */
  listenResponses(): Promise<void> {
    return this.#listen([FEATURE_REQUEST_EVENT_EXCHANGE], this.responses)
  }

  /** Subscribes to what the catalog sends the notifier (both modes). */
  listenToNotifierRequests(): Promise<void> {
    return this.#listen([NOTIFICATION_REQUEST_EXCHANGE, SPECIFIC_RECIPIENT_REQUEST_EXCHANGE], this.toNotifier)
  }

  /** Collects the messages of an existing queue (declared passively: its arguments are left as they are). */
  collect(queue: string, into: Received[]): Promise<void> {
    return this.consume({ queue, queueOptions: { passive: true }, qos: { prefetchCount: 1000 } }, (msg) =>
      into.push({ headers: msg.headers ?? {}, body: decode(msg), raw: msg, at: Date.now() }),
    )
  }

  async publish(exchange: string, opts: RequestHeaders & { body?: unknown; rawBody?: Buffer }): Promise<void> {
    const headers = TestAmqpClient.headers(opts)
    await this.publisher.send(
      { exchange, headers, priority: 1, durable: true, contentType: 'application/json', contentEncoding: 'UTF-8' },
      opts.rawBody ?? Buffer.from(JSON.stringify(opts.body), 'utf8'),
    )
  }

  create(tenant: string, requestId: string, feature: Record<string, unknown>, metadata: Record<string, unknown> = { sessionOwner: 'owner', session: 'session-1' }, extra: { date?: string; owner?: string } = {}) {
    return this.publish(FEATURE_CREATION_EXCHANGE, { tenant, requestId, owner: extra.owner ?? 'client', date: extra.date, body: { metadata, feature } })
  }

  patch(tenant: string, requestId: string, feature: Record<string, unknown>, metadata: Record<string, unknown> = {}) {
    return this.publish(FEATURE_UPDATE_EXCHANGE, { tenant, requestId, owner: 'client', body: { metadata, feature } })
  }

  delete(tenant: string, requestId: string, urn: string, priority = 'NORMAL') {
    return this.publish(FEATURE_DELETION_EXCHANGE, { tenant, requestId, owner: 'client', body: { urn, priority } })
  }

  notify(tenant: string, requestId: string | undefined, body: unknown, extra: { date?: string; owner?: string | null; headers?: Record<string, unknown> } = {}) {
    return this.publish(FEATURE_NOTIFICATION_EXCHANGE, { tenant, requestId, owner: extra.owner === null ? undefined : (extra.owner ?? 'client'), date: extra.date, headers: extra.headers, body })
  }

  /** A DisseminationAckEvent on the feature exchange (or the ingest one), with the type header REGARDS' publisher adds. */
  ack(tenant: string, urn: unknown, recipientLabel: unknown, opts: { ingest?: boolean; typeHeader?: boolean; rawBody?: Buffer } = {}) {
    const type = opts.ingest ? INGEST_ACK_TYPE : FEATURE_ACK_TYPE
    return this.publish(opts.ingest ? INGEST_ACK_EXCHANGE : FEATURE_ACK_EXCHANGE, {
      tenant,
      headers: opts.typeHeader === false ? {} : { 'regards.type': type },
      body: { urn, recipientLabel },
      rawBody: opts.rawBody,
    })
  }

  /** Answers as the notifier does. */
  notifierEvent(tenant: string, body: { requestId: string; requestOwner?: string; state: string; recipients?: unknown[]; notificationDate?: string; errors?: string[] }) {
    return this.publish(NOTIFIER_EVENT_EXCHANGE, {
      tenant,
      headers: { 'regards.type': NOTIFIER_EVENT_TYPE, 'regards.converter': 'GSON' },
      body: { recipients: [], notificationDate: new Date().toISOString(), ...body },
    })
  }

  responsesFor(requestId: string): any[] {
    return this.responses.filter((r) => r.body.requestId === requestId).map((r) => r.body)
  }

  sentFor(requestId: string): Received[] {
    return this.toNotifier.filter((r) => r.headers['regards.request.id'] === requestId)
  }
}
