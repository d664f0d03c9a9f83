import type { Connection } from 'rabbitmq-client'

/**
 * REGARDS AMQP names. Herald's consumer queues carry the names
 * of the rs-notifier handlers they replace, so a REGARDS deployment's queues are reused as they are.
 */
export const DLX = 'regards.DLX'
export const GLOBAL_DLQ = 'regards.DLQ'

export const NOTIFICATION_REQUEST_TYPE = 'fr.cnes.regards.framework.amqp.event.notifier.NotificationRequestEvent'
export const SPECIFIC_RECIPIENT_REQUEST_TYPE =
  'fr.cnes.regards.modules.notifier.dto.in.SpecificRecipientNotificationRequestEvent'
export const NOTIFIER_EVENT_TYPE = 'fr.cnes.regards.modules.notifier.dto.out.NotifierEvent'

export const broadcastExchange = (eventType: string) => `regards.broadcast.${eventType}`

export const NOTIFICATION_REQUEST_EXCHANGE = broadcastExchange(NOTIFICATION_REQUEST_TYPE)
export const SPECIFIC_RECIPIENT_REQUEST_EXCHANGE = broadcastExchange(SPECIFIC_RECIPIENT_REQUEST_TYPE)
export const NOTIFIER_EVENT_EXCHANGE = broadcastExchange(NOTIFIER_EVENT_TYPE)

export const NOTIFICATION_REQUEST_QUEUE =
  'regards.broadcast.rs-notifier.fr.cnes.regards.modules.notifier.service.flow.NotificationRequestEventHandler'
export const SPECIFIC_RECIPIENT_REQUEST_QUEUE =
  'regards.broadcast.rs-notifier.fr.cnes.regards.modules.notifier.service.flow.SpecificRecipientNotificationRequestEventHandler'

/** Queue arguments of every REGARDS subscription queue; a re-declaration must use exactly these. */
export function regardsQueueArguments(deadLetterRoutingKey: string) {
  return {
    'x-max-priority': 255,
    'x-dead-letter-exchange': DLX,
    'x-dead-letter-routing-key': deadLetterRoutingKey,
  }
}

export const dedicatedDlq = (queue: string) => `${queue}.DLQ`

/**
 * Declares a REGARDS consumer: its fanout exchange, its durable priority queue with a dedicated DLQ,
 * the DLX and the binding. Idempotent, with REGARDS' own arguments, so REGARDS services declaring the
 * same names get no PRECONDITION_FAILED.
 */
export async function declareConsumerTopology(
  rabbit: Connection,
  exchange: string,
  queue: string,
  /** `<queue>.DLQ` (dedicated, the default) or `regards.DLQ` for the REGARDS handlers that use the global one. */
  deadLetterRoutingKey = dedicatedDlq(queue),
): Promise<void> {
  // A channel of its own: the broker runs one channel's declarations one after another, so the consumers that
  // start together (9 with every role) are declared in parallel instead of queueing on the shared channel.
  const channel = await rabbit.acquire()
  try {
    await channel.exchangeDeclare({ exchange: DLX, type: 'topic', durable: true })
    await channel.exchangeDeclare({ exchange, type: 'fanout', durable: true })
    await channel.queueDeclare({ queue: deadLetterRoutingKey, durable: true, arguments: { 'x-max-priority': 255 } })
    await channel.queueBind({ queue: deadLetterRoutingKey, exchange: DLX, routingKey: deadLetterRoutingKey })
    await channel.queueDeclare({ queue, durable: true, arguments: regardsQueueArguments(deadLetterRoutingKey) })
    await channel.queueBind({ queue, exchange, routingKey: '' })
  } finally {
    await channel.close()
  }
}

/** The response exchange the notifier publishes NotifierEvents to. */
export async function declareBroadcastExchange(rabbit: Connection, exchange: string): Promise<void> {
  await rabbit.exchangeDeclare({ exchange, type: 'fanout', durable: true })
}
