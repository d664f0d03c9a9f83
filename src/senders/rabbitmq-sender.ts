import { amqpTargetFrom, DeclaredTopology, publishBuilt, type Built } from './amqp-delivery.ts'
import {
  commonRecipientInfo,
  stringParam,
  validateCommon,
  type DeliveryItem,
  type Parameters,
  type Sender,
  type SenderPlugin,
} from './sender.ts'

export const RABBITMQ_SENDER_TYPE = 'fr.cnes.regards.modules.notifier.plugins.RabbitMQSender$NotificationEvent'

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
    const target = amqpTargetFrom(params)
    const topology = new DeclaredTopology(ctx.broker)
    const build = (item: DeliveryItem): Built => ({
      target,
      message: {
        headers: { 'regards.tenant': item.tenant, 'regards.type': RABBITMQ_SENDER_TYPE, 'regards.converter': 'GSON' },
        // The product goes out unchanged: JSON nulls inside it are kept.
        body: JSON.stringify({ payload: item.payload, metadata: item.metadata }),
        priority: 0,
      },
    })
    return { send: (items) => publishBuilt(ctx, topology, items, build) }
  },
}
