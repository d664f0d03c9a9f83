import { amqpTargetFrom, declareAmqpRecipient, defineAmqpSender, type Built } from './amqp-delivery.ts'
import type { DeliveryItem } from './sender.ts'

export const RABBITMQ_SENDER_TYPE = 'fr.cnes.regards.modules.notifier.plugins.RabbitMQSender$NotificationEvent'

export const RABBITMQ_SENDER = declareAmqpRecipient({
  pluginId: 'RabbitMQSender',
  description: 'Publishes {payload, metadata} unchanged to an exchange, one message per product (REGARDS RabbitMQSender).',
  parameters: {},
})

/** Publishes `{payload, metadata}` unchanged to the configured exchange (REGARDS RabbitMQSender 1.0.0). */
export const rabbitmqSender = defineAmqpSender({
  declaration: RABBITMQ_SENDER,
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
