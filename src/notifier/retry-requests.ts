import { sql, type RawBuilder } from 'kysely'
import { insertOutbox } from '../amqp/outbox-relay.ts'
import type { Db, Tx } from '../db/client.ts'
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

/** The requests a retry looks at, resolved: ids, a recipient's primary key, a listing's filter (on `r`), an upper bound. */
export interface RetryScope {
  requestIds?: string[]
  /** Only this recipient's deliveries (and no rematching of RULE_ERROR requests). */
  recipientId?: number
  conditions?: RawBuilder<unknown>[]
  /** Requests registered after a bulk retry started are not part of it. */
  upToId?: number
}

export interface RetryBatch extends RetryOutcome {
  /** The highest request id of the batch: where the next one starts. */
  lastId: number
}

const RETRY_BATCH = 500

/** The live requests (`notification_request r`) of the scope with something to retry: a delivery in ERROR, or RULE_ERROR. */
export function retryableRequests(tenant: string, scope: RetryScope): RawBuilder<unknown> {
  const { requestIds, recipientId, conditions = [], upToId } = scope
  return sql`r.tenant = ${tenant}
    ${requestIds ? sql`and r.request_id = any(${requestIds}::text[])` : sql``}
    ${upToId !== undefined ? sql`and r.id <= ${upToId}` : sql``}
    ${conditions.length > 0 ? sql`and ${sql.join(conditions, sql` and `)}` : sql``}
    and ((${recipientId === undefined} and r.state = 'RULE_ERROR')
      or exists (select 1 from delivery d where d.request_pk = r.id and d.state = 'ERROR'
        ${recipientId !== undefined ? sql`and d.recipient_id = ${recipientId}` : sql``}))`
}

/**
 * Retries, in the caller's transaction, the next `limit` requests of the scope with an id above `afterId`:
 * ERROR deliveries go back to PENDING with their attempts reset, their requests back to SCHEDULED,
 * RULE_ERROR requests back to matching, and each one is answered GRANTED, as a retry by AMQP is.
 * Undefined when there is none left.
 */
export async function retryBatch(tx: Tx, tenant: string, scope: RetryScope, afterId: number, limit: number): Promise<RetryBatch | undefined> {
  const { recipientId } = scope
  const { rows } = await sql<{ id: number; request_id: string; request_owner: string | null; request_date: Date; state: string }>`
    select r.id, r.request_id, r.request_owner, r.request_date, r.state from notification_request r
    where r.id > ${afterId} and ${retryableRequests(tenant, scope)}
    order by r.id limit ${limit} for update`.execute(tx)
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
}

/**
 * Manual retry, in batches of 500 requests, one transaction each (`retryBatch`); the delivery
 * worker takes them within its 250 ms poll, at once when the caller wakes it. Recipients already in
 * success are never notified again.
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
    const batch = await db.transaction().execute((tx) => retryBatch(tx, tenant, { requestIds, recipientId }, afterId, RETRY_BATCH))
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
