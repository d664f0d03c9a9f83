import { sql } from 'kysely'
import { insertOutbox } from '../amqp/outbox-relay.ts'
import type { Db } from '../db/client.ts'
import { notifierEvent } from './notifier-event.ts'
import { findPlugin } from './plugin-configurations.ts'

/**
 * Which failures to retry: `requestIds` undefined means every request of the tenant; `recipient` narrows
 * the retry to that recipient's deliveries (one recipient of one request, or everything it failed).
 */
export interface RetrySelection {
  requestIds?: string[]
  recipient?: string
}

export interface RetryOutcome {
  /** Requests put back in progress. */
  requests: number
  /** Deliveries put back to PENDING. */
  deliveries: number
  /** RULE_ERROR requests sent back to matching. */
  rematched: number
}

const RETRY_BATCH = 500

/**
 * Manual retry (DESIGN §4), in batches of 500 requests, one transaction each: ERROR deliveries go back to
 * PENDING with their attempts reset (the delivery worker takes them within its 250 ms poll, at once when
 * the caller wakes it), their requests back to SCHEDULED, RULE_ERROR requests back to matching. Each
 * retried request is answered GRANTED, as a retry by AMQP is. Recipients already in success are never
 * notified again.
 */
export async function retryRequests(db: Db, tenant: string, selection: RetrySelection, onProgress?: (outcome: RetryOutcome) => void): Promise<RetryOutcome> {
  const total: RetryOutcome = { requests: 0, deliveries: 0, rematched: 0 }
  let recipientId: number | undefined
  if (selection.recipient !== undefined) {
    const recipient = await findPlugin(db, tenant, 'RECIPIENT', selection.recipient)
    if (!recipient) return total
    recipientId = recipient.id
  }
  const requestIds = selection.requestIds
  if (requestIds && requestIds.length === 0) return total
  let afterId = 0
  for (;;) {
    const batch = await db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ id: number; request_id: string; request_owner: string | null; request_date: Date; state: string }>`
        select r.id, r.request_id, r.request_owner, r.request_date, r.state from notification_request r
        where r.tenant = ${tenant} and r.id > ${afterId}
          ${requestIds ? sql`and r.request_id = any(${requestIds}::text[])` : sql``}
          and ((${recipientId === undefined} and r.state = 'RULE_ERROR')
            or exists (select 1 from delivery d where d.request_pk = r.id and d.state = 'ERROR'
              ${recipientId !== undefined ? sql`and d.recipient_id = ${recipientId}` : sql``}))
        order by r.id limit ${RETRY_BATCH} for update`.execute(tx)
      if (rows.length === 0) return undefined
      const ids = rows.map((r) => r.id)
      const deliveries = await sql`update delivery set state = 'PENDING', attempts = 0, next_attempt_at = now(), last_error = null, updated_at = now()
        where request_pk = any(${ids}::bigint[]) and state = 'ERROR' ${recipientId !== undefined ? sql`and recipient_id = ${recipientId}` : sql``}`.execute(tx)
      await sql`update notification_request set state = 'SCHEDULED', updated_at = now()
        where id = any(${ids}::bigint[]) and state = 'ERROR'`.execute(tx)
      const rematch = rows.filter((r) => r.state === 'RULE_ERROR').map((r) => r.id)
      if (rematch.length > 0) {
        await sql`update notification_request set state = 'GRANTED', rule_errors = null, not_before = now(), updated_at = now()
          where id = any(${rematch}::bigint[])`.execute(tx)
      }
      await insertOutbox(
        tx,
        rows.map((r) => notifierEvent({ tenant, requestId: r.request_id, requestOwner: r.request_owner ?? undefined, state: 'GRANTED', notificationDate: r.request_date })),
      )
      return { lastId: ids[ids.length - 1], requests: rows.length, deliveries: Number(deliveries.numAffectedRows ?? 0), rematched: rematch.length }
    })
    if (!batch) break
    afterId = batch.lastId
    total.requests += batch.requests
    total.deliveries += batch.deliveries
    total.rematched += batch.rematched
    onProgress?.({ ...total })
    if (batch.requests < RETRY_BATCH) break
  }
  return total
}
