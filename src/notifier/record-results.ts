import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import { insertOutbox } from '../amqp/outbox-relay.ts'
import type { DeliveryPolicy } from '../senders/policy.ts'
import type { SendResult } from '../senders/sender.ts'
import { completeRequests, type Completion } from './complete-requests.ts'
import type { TenantConfig } from './tenant-config.ts'

export interface SentItem {
  deliveryId: number
  requestPk: number
  attempt: number
  result: SendResult
}

export interface Recorded extends Completion {
  sent: number
  retried: number
  failed: number
}

/**
 * Records a sent batch in one transaction: successes, failures retried after a backoff computed in SQL,
 * failures that exhausted the policy, the reason of every failed attempt, and the completion of requests
 * that have nothing left to deliver (with their events in the outbox).
 */
export async function recordResults(
  db: Db,
  items: SentItem[],
  policy: DeliveryPolicy,
  /** The recipient's tenant configuration, loaded before the transaction. */
  config: TenantConfig,
): Promise<Recorded> {
  const rows = items.map(({ deliveryId, attempt, result }) => {
    if (result.ok) return { id: deliveryId, state: 'SUCCESS', error: null, error_class: null, retry_after_ms: 0 }
    const retry = !result.permanent && attempt < policy.maxAttempts
    return {
      id: deliveryId,
      state: retry ? 'PENDING' : 'ERROR',
      error: result.message.slice(0, 2000),
      error_class: result.errorClass,
      retry_after_ms: result.retryAfterMs ?? 0,
    }
  })
  const requestPks = [...new Set(items.map((i) => i.requestPk))].sort((a, b) => a - b)
  return db.transaction().execute(async (tx) => {
    // Lock the requests first, in id order: the completion check below must see the other recipients'
    // results committed, and the fixed order rules out deadlocks between workers.
    await sql`select id from notification_request where id = any(${requestPks}::bigint[]) order by id for update`.execute(tx)
    await sql`update delivery d set state = x.state, last_error = x.error, lease_until = null, updated_at = now(),
        sent_at = case when x.state = 'SUCCESS' then now() else d.sent_at end,
        next_attempt_at = now() + make_interval(secs => greatest(
          x.retry_after_ms,
          least(${policy.retryMaxDelayMs}::float8, ${policy.retryInitialDelayMs}::float8 * power(2, d.attempts - 1)) * (0.75 + random() * 0.5)
        ) / 1000.0)
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(id bigint, state text, error text, error_class text, retry_after_ms float8)
      where d.id = x.id and d.state = 'SENDING'`.execute(tx)
    const failures = rows.filter((r) => r.state !== 'SUCCESS')
    if (failures.length > 0) {
      await sql`insert into delivery_attempt (tenant, delivery_id, attempt, outcome, error_class, message)
        select d.tenant, d.id, d.attempts, x.state, x.error_class, x.error
        from jsonb_to_recordset(${JSON.stringify(failures)}::jsonb) as x(id bigint, state text, error text, error_class text)
        join delivery d on d.id = x.id`.execute(tx)
    }
    const completion = await completeRequests(tx, requestPks, config)
    await insertOutbox(tx, completion.events)
    return {
      ...completion,
      sent: rows.filter((r) => r.state === 'SUCCESS').length,
      retried: rows.filter((r) => r.state === 'PENDING').length,
      failed: rows.filter((r) => r.state === 'ERROR').length,
    }
  })
}
