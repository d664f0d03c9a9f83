import type { Connection } from 'rabbitmq-client'
import type { Db } from '../db/client.ts'
import { originalHeaders } from './collector.ts'
import { deleteDeadLetters, getDeadLetters, listDeadLetters, type DeadLetterFilter, type DeadLetterMessage } from './store.ts'

/**
 * Where a re-injected message goes. `queue` (the default) publishes to the queue it failed in, through the
 * default exchange: only the consumer that failed sees it again. `exchange` publishes to its original
 * exchange and routing key, as first sent: every queue bound there receives it again (other subscribers
 * of a fanout exchange included), which is rarely what an operator wants.
 */
export type ReplayTarget = 'queue' | 'exchange'

export interface ReplayOutcome {
  replayed: number[]
  /** Ids asked for that are not (or no longer) in the table. */
  missing: number[]
}

const BATCH = 200

/** The queue or exchange to re-inject into does not exist: nothing was published. */
export class ReplayTargetError extends Error {}

/**
 * Re-injects dead letters with their original headers and properties, each confirmed by the broker
 * before its row is deleted (a crash between the two re-injects it again on the next replay: the
 * notifier's request-id deduplication absorbs that). `ids` undefined replays every matching message.
 */
export async function replayDeadLetters(
  db: Db,
  rabbit: Connection,
  filter: DeadLetterFilter,
  ids: number[] | undefined,
  target: ReplayTarget = 'queue',
  onProgress?: (done: number) => void,
): Promise<ReplayOutcome> {
  const publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 3 })
  const outcome: ReplayOutcome = { replayed: [], missing: [] }
  try {
    const checked = new Set<string>()
    const publishBatch = async (messages: DeadLetterMessage[]) => {
      // A message published where nothing receives it is dropped by the broker: check the target exists.
      for (const m of messages) {
        const key = target === 'queue' ? `q:${m.queue}` : `x:${m.exchange}`
        if (checked.has(key)) continue
        try {
          if (target === 'queue') await rabbit.queueDeclare({ queue: m.queue, passive: true })
          else if (m.exchange !== '') await rabbit.exchangeDeclare({ exchange: m.exchange, passive: true })
        } catch (err) {
          throw new ReplayTargetError(`dead letter ${m.id}: ${target === 'queue' ? `queue ${m.queue}` : `exchange ${m.exchange}`} does not exist (${(err as Error).message})`)
        }
        checked.add(key)
      }
      await Promise.all(messages.map((m) => publish(publisher, m, target)))
      await deleteDeadLetters(db, filter, messages.map((m) => m.id))
      outcome.replayed.push(...messages.map((m) => m.id))
      onProgress?.(outcome.replayed.length)
    }
    if (ids) {
      for (let i = 0; i < ids.length; i += BATCH) {
        const slice = ids.slice(i, i + BATCH)
        const messages = await getDeadLetters(db, filter, slice)
        const found = new Set(messages.map((m) => m.id))
        outcome.missing.push(...slice.filter((id) => !found.has(id)))
        if (messages.length > 0) await publishBatch(messages)
      }
    } else {
      let afterId = 0
      for (;;) {
        const page = await listDeadLetters(db, filter, BATCH - 1, afterId)
        if (page.length === 0) break
        afterId = page[page.length - 1].id
        await publishBatch(await getDeadLetters(db, filter, page.map((m) => m.id)))
      }
    }
    return outcome
  } finally {
    await publisher.close()
  }
}

function publish(publisher: ReturnType<Connection['createPublisher']>, m: DeadLetterMessage, target: ReplayTarget): Promise<void> {
  const p = m.properties as Record<string, any>
  return publisher.send(
    {
      exchange: target === 'queue' ? '' : m.exchange,
      routingKey: target === 'queue' ? m.queue : m.routingKey,
      headers: originalHeaders(m.headers),
      durable: p.durable ?? true,
      priority: p.priority,
      contentType: p.contentType,
      contentEncoding: p.contentEncoding,
      messageId: p.messageId,
      correlationId: p.correlationId,
      type: p.type,
      appId: p.appId,
      timestamp: p.timestamp,
    },
    m.body,
  )
}
