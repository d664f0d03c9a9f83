import { GLOBAL_DLQ } from '../amqp/topology.ts'
import type { OutgoingMessage } from '../amqp/broker.ts'
import { DeclaredTopology } from './rabbitmq-sender.ts'
import { stringParam, type Parameters, type SendResult, type Sender, type SenderContext } from './sender.ts'

/** Where an AMQP sender publishes: REGARDS AbstractRabbitMQSender's `exchange`, `queueName`, `queueDeadLetterRoutingKey`. */
export interface AmqpTarget {
  exchange: string
  queueName: string | undefined
  deadLetterRoutingKey: string
}

export function amqpTargetFrom(params: Parameters): AmqpTarget {
  return {
    exchange: stringParam(params, 'exchange')!,
    queueName: stringParam(params, 'queueName'),
    deadLetterRoutingKey: stringParam(params, 'queueDeadLetterRoutingKey') ?? GLOBAL_DLQ,
  }
}

export function validateAmqpTarget(params: Parameters): string[] {
  return stringParam(params, 'exchange') ? [] : ['parameter exchange is mandatory']
}

/** What a sender made of one item: a message for a target, or the item's own (permanent) failure. */
export type Built = { target: AmqpTarget; message: Omit<OutgoingMessage, 'exchange'> } | { failure: SendResult & { ok: false } }

export const permanentFailure = (errorClass: string, message: string): Built => ({ failure: { ok: false, permanent: true, errorClass, message } })

/**
 * Publishes the built messages with broker confirms, declaring each target once, and answers one result
 * per item: an item that could not be built keeps its failure and never holds back the others.
 */
export async function publishBuilt(ctx: SenderContext, topology: DeclaredTopology, built: Built[]): Promise<SendResult[]> {
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
    built.map(async (b): Promise<SendResult> => {
      if ('failure' in b) return b.failure
      const declareError = await declare(b.target)
      if (declareError) return { ok: false, permanent: false, errorClass: 'AMQP_DECLARE', message: declareError }
      try {
        await ctx.broker.publish({ ...b.message, exchange: b.target.exchange, priority: b.message.priority ?? 0 })
        return { ok: true }
      } catch (err) {
        return { ok: false, permanent: false, errorClass: 'AMQP_PUBLISH', message: (err as Error).message }
      }
    }),
  )
}

/**
 * The sender of a configuration that does not validate (imports refuse such configurations; this covers
 * rows written by other means): every item fails permanently with the problems, instead of the worker
 * failing to build a sender on every scan.
 */
export function misconfiguredSender(problems: string[]): Sender {
  const message = `recipient configuration is invalid: ${problems.join('; ')}`
  return { send: async (items) => items.map(() => ({ ok: false, permanent: true, errorClass: 'CONFIGURATION', message })) }
}

export { DeclaredTopology }
