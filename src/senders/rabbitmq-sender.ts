import { Type } from 'typebox'
import { declarePlugin } from '../plugins/declaration.ts'
import { AMQP_TARGET_PARAMETERS, amqpTargetFrom, DeclaredTopology, publishBuilt, type Built } from './amqp-delivery.ts'
import { POLICY_PARAMETERS } from './policy.ts'
import { ackParameters, checkBlocking, commonRecipientInfo, defineSender, reportingParameters, type DeliveryItem, type Sender } from './sender.ts'

export const RABBITMQ_SENDER_TYPE = 'fr.cnes.regards.modules.notifier.plugins.RabbitMQSender$NotificationEvent'

const DESCRIPTION = 'Rabbit MQ sender'

export const RABBITMQ_SENDER = declarePlugin({
  pluginId: 'RabbitMQSender',
  kind: 'RECIPIENT',
  version: '1.0.0',
  author: 'Herald',
  description: 'Publishes {payload, metadata} unchanged to an exchange, one message per product (REGARDS RabbitMQSender).',
  parameters: Type.Object({ ...AMQP_TARGET_PARAMETERS, ...reportingParameters(DESCRIPTION), ...ackParameters, ...POLICY_PARAMETERS }),
  checks: checkBlocking,
})

/** Publishes `{payload, metadata}` unchanged to the configured exchange (REGARDS RabbitMQSender 1.0.0). */
export const rabbitmqSender = defineSender({
  declaration: RABBITMQ_SENDER,
  describe: (values) => commonRecipientInfo(values, DESCRIPTION),
  create(values, ctx): Sender {
    const target = amqpTargetFrom(values)
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
})
