import type { AsyncMessage, Consumer } from 'rabbitmq-client'
import * as topology from '../amqp/topology.ts'
import * as catalogTopology from '../catalog/topology.ts'
import type { Ctx } from '../context.ts'
import { insertDeadLetter, type NewDeadLetter } from './store.ts'

/**
 * Moves dead-lettered messages from the DLQs of Herald's consumer queues into the `dead_letter` table.
 *
 * Why a table and not the broker: the broker offers no way to browse a queue. `basic.get` then
 * `nack(requeue)` re-orders the queue, bumps the redelivery flag, and two operators browsing at once see
 * each other's messages vanish; deleting or replaying message N means reading the N-1 before it. In a
 * table a dead letter has an id, can be listed with a cursor, inspected, replayed or discarded, and is
 * scoped to its tenant like every other row. Each message is acked only after its row committed
 * (at-least-once: a crash between the two stores it twice, never loses it).
 */

const queuesOf = (module: Record<string, unknown>) =>
  Object.entries(module)
    .filter(([name, value]) => name.endsWith('_QUEUE') && typeof value === 'string' && value.startsWith('regards.broadcast.'))
    .map(([, value]) => value as string)

/**
 * The consumer queues of Herald's roles: every `*_QUEUE` of the notifier and catalog topology modules.
 * Only the roles running in this process are collected: a Herald that replaces the REGARDS notifier next
 * to a real rs-fem must not take rs-fem's dead letters. An http-only instance (roles split over several
 * processes) collects for every role.
 */
export function heraldConsumerQueues(roles: readonly string[] = ['notifier', 'catalog']): string[] {
  const consuming = roles.filter((r) => r === 'notifier' || r === 'catalog')
  const wanted = consuming.length > 0 ? consuming : ['notifier', 'catalog']
  return [...(wanted.includes('notifier') ? queuesOf(topology) : []), ...(wanted.includes('catalog') ? queuesOf(catalogTopology) : [])].sort()
}

const STRIPPED_ON_REPLAY = /^x-(death|first-death-.*|last-death-.*|exception-message|exception-stacktrace|original-exchange|original-routingKey|death-queue)$/

/** The headers a re-injected message carries: the original ones, without the dead-lettering traces. */
export function originalHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !STRIPPED_ON_REPLAY.test(name)))
}

/** Header values as JSON: AMQP strings may arrive as Buffers, timestamps as Dates. */
function jsonable(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map(jsonable)
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonable(v)]))
  return value
}

const str = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v))

function deathTime(v: unknown): Date | null {
  if (v instanceof Date) return v
  if (typeof v === 'number') return new Date(v < 1e12 ? v * 1000 : v)
  if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return new Date(v)
  return null
}

/**
 * What to store for one message of `dlq`. Three producers dead-letter messages, each leaving its own
 * trace: Herald's batch consumer and REGARDS' recoverer (`x-exception-message`, `x-original-exchange`,
 * `x-original-routingKey`), and the broker itself (`x-death`, `x-first-death-*`).
 */
export function deadLetterOf(dlq: string, msg: AsyncMessage): NewDeadLetter {
  const headers = jsonable(msg.headers ?? {}) as Record<string, any>
  const death = Array.isArray(headers['x-death']) ? headers['x-death'][0] : undefined
  const body = Buffer.isBuffer(msg.body) ? msg.body : Buffer.from(typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body ?? null), 'utf8')
  const properties = Object.fromEntries(
    Object.entries({
      contentType: msg.contentType,
      contentEncoding: msg.contentEncoding,
      priority: msg.priority,
      messageId: msg.messageId,
      correlationId: msg.correlationId,
      type: msg.type,
      appId: msg.appId,
      userId: msg.userId,
      timestamp: msg.timestamp,
      durable: msg.durable,
    }).filter(([, v]) => v !== undefined && v !== null),
  )
  return {
    tenant: str(headers['regards.tenant']) ?? null,
    dlq,
    queue: str(headers['x-death-queue']) ?? str(headers['x-first-death-queue']) ?? str(death?.queue) ?? dlq.replace(/\.DLQ$/, ''),
    exchange: str(headers['x-original-exchange']) ?? str(headers['x-first-death-exchange']) ?? str(death?.exchange) ?? '',
    routingKey: str(headers['x-original-routingKey']) ?? str(death?.['routing-keys']?.[0]) ?? '',
    reason: str(headers['x-exception-message']) ?? str(headers['x-first-death-reason']) ?? str(death?.reason) ?? null,
    deadLetteredAt: deathTime(death?.time),
    headers,
    properties,
    body,
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Starts one consumer per DLQ of the given roles' queues (declared as Herald's consumers declare them, so
 * the collector can start first). Returns the function that stops them.
 */
export async function startDeadLetterCollector(ctx: Ctx, roles?: readonly string[], queues: string[] = heraldConsumerQueues(roles)): Promise<() => Promise<void>> {
  const log = ctx.log.child({ module: 'dead-letters' })
  const consumers: Consumer[] = []
  for (const queue of queues) {
    const dlq = topology.dedicatedDlq(queue)
    const consumer = ctx.broker.connection.createConsumer(
      {
        queue: dlq,
        queueOptions: { durable: true, arguments: { 'x-max-priority': 255 } },
        exchanges: [{ exchange: topology.DLX, type: 'topic', durable: true }],
        queueBindings: [{ queue: dlq, exchange: topology.DLX, routingKey: dlq }],
        qos: { prefetchCount: 50 },
        concurrency: 10,
        requeue: true,
      },
      async (msg) => {
        try {
          await insertDeadLetter(ctx.db, deadLetterOf(dlq, msg))
        } catch (err) {
          // The database is down: leave the message in its DLQ (requeued), and do not spin on it.
          log.warn({ err, dlq }, 'cannot store a dead letter, leaving it in its queue')
          await sleep(1000)
          throw err
        }
        log.info({ dlq, tenant: msg.headers?.['regards.tenant'], requestId: msg.headers?.['regards.request.id'] }, 'dead letter collected')
      },
    )
    consumer.on('error', (err) => log.warn({ err, dlq }, 'dead-letter consumer error'))
    consumers.push(consumer)
  }
  return async () => {
    await Promise.allSettled(consumers.map((c) => c.close()))
  }
}
