import { AMQP_TARGET_PARAMETERS, amqpTargetFrom, defineAmqpSender, type Built } from './amqp-delivery.ts'
import { commonRecipientInfo, declareRecipient, type DeliveryItem } from './sender.ts'

export const RABBITMQ_SENDER_TYPE = 'fr.cnes.regards.modules.notifier.plugins.RabbitMQSender$NotificationEvent'

const DESCRIPTION = 'Rabbit MQ sender'

export const RABBITMQ_SENDER = declareRecipient({
  pluginId: 'RabbitMQSender',
  description: 'Publishes {payload, metadata} unchanged to an exchange, one message per product (REGARDS RabbitMQSender).',
  defaultDescription: DESCRIPTION,
  parameters: AMQP_TARGET_PARAMETERS,
})

/** Publishes `{payload, metadata}` unchanged to the configured exchange (REGARDS RabbitMQSender 1.0.0). */
export const rabbitmqSender = defineAmqpSender({
  declaration: RABBITMQ_SENDER,
  describe: (values) => commonRecipientInfo(values, DESCRIPTION),
  builder(values) {
    const target = amqpTargetFrom(values)
    return (item: DeliveryItem): Built => ({
      target,
      message: {
        headers: { 'regards.tenant': item.tenant, 'regards.type': RABBITMQ_SENDER_TYPE, 'regards.converter': 'GSON' },
        // The product goes out unchanged: JSON nulls inside it are kept.
        body: JSON.stringify({ payload: item.payload, metadata: item.metadata }),
        priority: 0,
      },
    })
  },
})
