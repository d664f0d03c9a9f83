import { DLX, GLOBAL_DLQ } from '../amqp/topology.ts'
import type { Broker } from '../amqp/broker.ts'
import {
  commonRecipientInfo,
  stringParam,
  validateCommon,
  type DeliveryItem,
  type Parameters,
  type SendResult,
  type Sender,
  type SenderPlugin,
} from './sender.ts'

export const RABBITMQ_SENDER_TYPE = 'fr.cnes.regards.modules.notifier.plugins.RabbitMQSender$NotificationEvent'

/**
 * Declares a sender's exchange (durable fanout) and, when configured, its queue and binding, once per
 * broker connection: REGARDS AbstractRabbitMQSender declares once per tenant and exchange.
 */
export class DeclaredTopology {
  readonly #done = new Map<string, Promise<void>>()

  constructor(readonly broker: Broker) {}

  ensure(exchange: string, queueName: string | undefined, deadLetterRoutingKey: string): Promise<void> {
    const key = `${exchange}\u0000${queueName ?? ''}`
    let done = this.#done.get(key)
    if (!done) {
      done = (async () => {
        // A channel of its own: a refused declaration (PRECONDITION_FAILED) closes the channel it was made
        // on, and the connection's shared channel would take the other recipients' declarations down with it.
        const channel = await this.broker.connection.acquire()
        try {
          await channel.exchangeDeclare({ exchange, type: 'fanout', durable: true })
          if (queueName) {
            await channel.queueDeclare({
              queue: queueName,
              durable: true,
              arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': DLX, 'x-dead-letter-routing-key': deadLetterRoutingKey },
            })
            await channel.queueBind({ queue: queueName, exchange, routingKey: '' })
          }
        } finally {
          await channel.close().catch(() => {})
        }
      })()
      // A failed declaration is tried again on the next batch.
      done.catch(() => this.#done.delete(key))
      this.#done.set(key, done)
    }
    return done
  }
}

/** Publishes `{payload, metadata}` unchanged to the configured exchange (REGARDS RabbitMQSender 1.0.0). */
export const rabbitmqSender: SenderPlugin = {
  pluginId: 'RabbitMQSender',
  validate(params: Parameters): string[] {
    const errors = validateCommon(params)
    if (!stringParam(params, 'exchange')) errors.push('parameter exchange is mandatory')
    return errors
  },
  describe: (params) => commonRecipientInfo(params, 'Rabbit MQ sender'),
  create(params, ctx): Sender {
    const exchange = stringParam(params, 'exchange')!
    const queueName = stringParam(params, 'queueName')
    const dlrk = stringParam(params, 'queueDeadLetterRoutingKey') ?? GLOBAL_DLQ
    const topology = new DeclaredTopology(ctx.broker)
    return {
      async send(items: DeliveryItem[]): Promise<SendResult[]> {
        try {
          await topology.ensure(exchange, queueName, dlrk)
        } catch (err) {
          const message = `cannot declare exchange ${exchange}${queueName ? ` / queue ${queueName}` : ''}: ${(err as Error).message}`
          return items.map(() => ({ ok: false, permanent: false, errorClass: 'AMQP_DECLARE', message }))
        }
        return Promise.all(
          items.map(async (item): Promise<SendResult> => {
            try {
              await ctx.broker.publish({
                exchange,
                headers: { 'regards.tenant': item.tenant, 'regards.type': RABBITMQ_SENDER_TYPE, 'regards.converter': 'GSON' },
                // The product goes out unchanged: JSON nulls inside it are kept.
                body: JSON.stringify({ payload: item.payload, metadata: item.metadata }),
                priority: 0,
              })
              return { ok: true }
            } catch (err) {
              return { ok: false, permanent: false, errorClass: 'AMQP_PUBLISH', message: (err as Error).message }
            }
          }),
        )
      },
    }
  },
}
