import { DLX, GLOBAL_DLQ } from '../amqp/topology.ts'
import { UnroutableError, type Broker, type OutgoingMessage } from '../amqp/broker.ts'
import type { TProperties } from 'typebox'
import { P, type ParameterValues, type PluginDeclaration } from '../plugins/declaration.ts'
import { declareRecipient, defineSender, type DeliveryItem, type RecipientInfo, type SendResult, type SenderContext, type SenderPlugin } from './sender.ts'

/** Where an AMQP sender publishes: REGARDS AbstractRabbitMQSender's `exchange`, `queueName`, `queueDeadLetterRoutingKey`. */
export interface AmqpTarget {
  exchange: string
  queueName: string | undefined
  deadLetterRoutingKey: string
}

/** REGARDS AbstractRabbitMQSender's target parameters. */
const AMQP_TARGET_PARAMETERS = {
  exchange: P.amqpName('Exchange to publish to, declared durable fanout when absent.', { label: 'Exchange' }),
  queueName: P.optional(P.amqpName('Queue declared durable (x-max-priority 255, x-dead-letter-exchange regards.DLX) and bound to the exchange.', { label: 'Queue' })),
  queueDeadLetterRoutingKey: P.optional(P.amqpName('Dead-letter routing key of that queue.', { label: 'Dead-letter routing key', default: GLOBAL_DLQ })),
}

/**
 * A plugin of REGARDS AbstractRabbitMQSender's family (RabbitMQSender, WorkerManagerSender, LtaRequestSender):
 * the target parameters first, then its own; 'Rabbit MQ sender' when no description is configured, as there.
 */
export function declareAmqpRecipient<Own extends TProperties>(spec: { pluginId: string; description: string; parameters: Own }) {
  return declareRecipient({ ...spec, defaultDescription: 'Rabbit MQ sender', parameters: { ...AMQP_TARGET_PARAMETERS, ...spec.parameters } })
}

export function amqpTargetFrom(values: { exchange: string; queueName?: string; queueDeadLetterRoutingKey?: string }): AmqpTarget {
  return { exchange: values.exchange, queueName: values.queueName, deadLetterRoutingKey: values.queueDeadLetterRoutingKey ?? GLOBAL_DLQ }
}

/** What a sender made of one item: a message for a target, or the item's own (permanent) failure. */
export type Built = { target: AmqpTarget; message: Omit<OutgoingMessage, 'exchange'> } | { failure: SendResult & { ok: false } }

export const permanentFailure = (errorClass: string, message: string): Built => ({ failure: { ok: false, permanent: true, errorClass, message } })

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

/**
 * Builds and publishes one message per item with broker confirms, declaring each target once, and answers
 * one result per item: an item that could not be built keeps its failure and never holds back the others.
 *
 * Each message is mandatory, with a message id stable per delivery (`herald-delivery-<id>`, so a recipient
 * can drop a copy re-sent after a crash): an exchange that routes it to no queue makes it a failure,
 * retried like any other, never a SUCCESS for a message the broker dropped.
 */
export async function publishBuilt(ctx: SenderContext, topology: DeclaredTopology, items: DeliveryItem[], build: (item: DeliveryItem) => Built): Promise<SendResult[]> {
  const declared = new Map<AmqpTarget, Promise<string | undefined>>()
  const declare = (target: AmqpTarget) => {
    let done = declared.get(target)
    if (!done) {
      done = topology.ensure(target.exchange, target.queueName, target.deadLetterRoutingKey).then(
        () => undefined,
        (err: Error) => `cannot declare exchange ${target.exchange}${target.queueName ? ` / queue ${target.queueName}` : ''}: ${err.message}`,
      )
      declared.set(target, done)
    }
    return done
  }
  return Promise.all(
    items.map(async (item): Promise<SendResult> => {
      const b = build(item)
      if ('failure' in b) return b.failure
      const declareError = await declare(b.target)
      if (declareError) return { ok: false, permanent: false, errorClass: 'AMQP_DECLARE', message: declareError }
      try {
        await ctx.broker.publish({
          ...b.message,
          exchange: b.target.exchange,
          priority: b.message.priority ?? 0,
          messageId: b.message.messageId ?? `herald-delivery-${item.deliveryId}`,
          mandatory: true,
        })
        return { ok: true, answer: 'confirmed by the broker' }
      } catch (err) {
        const errorClass = err instanceof UnroutableError ? 'AMQP_UNROUTABLE' : 'AMQP_PUBLISH'
        return { ok: false, permanent: false, errorClass, message: (err as Error).message }
      }
    }),
  )
}

/**
 * An AMQP recipient plugin: one message per item, made by the builder the checked values give, published
 * by {@link publishBuilt} on a topology declared once per sender.
 */
export function defineAmqpSender<D extends PluginDeclaration<any>>(spec: {
  declaration: D
  describe?(values: ParameterValues<D>): RecipientInfo
  builder(values: ParameterValues<D>, ctx: SenderContext): (item: DeliveryItem) => Built
}): SenderPlugin {
  return defineSender({
    declaration: spec.declaration,
    describe: spec.describe,
    create(values, ctx) {
      const topology = new DeclaredTopology(ctx.broker)
      const build = spec.builder(values, ctx)
      return { send: (items) => publishBuilt(ctx, topology, items, build) }
    },
  })
}
