import { sql } from 'kysely'
import type { Tx } from '../db/client.ts'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'
import { notifierEvent, type EventRecipient } from './notifier-event.ts'
import type { TenantConfig } from './tenant-config.ts'

interface CompletableRow {
  id: number
  tenant: string
  request_id: string
  request_owner: string | null
  request_date: Date
  deliveries: CompletedDelivery[]
}

/** A delivery as the history keeps it (the recipient's ids are added from the configuration). */
interface CompletedDelivery {
  recipientId: number
  state: 'SUCCESS' | 'ERROR'
  attempts: number
  sentAt: string | null
  lastError: string | null
  updatedAt: string
  /** Failed attempts, oldest first. */
  history: unknown[]
}

export interface Completion {
  events: OutboxEvent[]
  succeeded: number
  failed: number
}

/**
 * Completes the given requests of one tenant that have nothing left to deliver: SUCCESS (moved to the history) or ERROR
 * (kept, waiting for a retry), each with its completion NotifierEvent. The caller holds the rows locked
 * (FOR UPDATE), so two workers finishing the last deliveries of one request cannot both miss, or both
 * send, its completion.
 */
export async function completeRequests(
  tx: Tx,
  requestPks: number[],
  // Passed in, never loaded here: a query through the pool inside this transaction would wait forever
  // for PGlite's single connection.
  config: TenantConfig,
): Promise<Completion> {
  const completion: Completion = { events: [], succeeded: 0, failed: 0 }
  if (requestPks.length === 0) return completion
  const { rows } = await sql<CompletableRow>`
    select r.id, r.tenant, r.request_id, r.request_owner, r.request_date,
      coalesce(jsonb_agg(jsonb_build_object('recipientId', d.recipient_id, 'state', d.state, 'attempts', d.attempts,
          'sentAt', d.sent_at, 'lastError', d.last_error, 'updatedAt', d.updated_at,
          'history', coalesce((select jsonb_agg(jsonb_build_object('attempt', a.attempt, 'at', a.at, 'outcome', a.outcome,
              'errorClass', a.error_class, 'message', a.message) order by a.id)
            from delivery_attempt a where a.delivery_id = d.id), '[]'::jsonb)) order by d.id)
        filter (where d.id is not null), '[]'::jsonb) as deliveries
    from notification_request r left join delivery d on d.request_pk = r.id
    where r.id = any(${requestPks}::bigint[]) and r.tenant = ${config.tenant} and r.state = 'SCHEDULED'
    group by r.id
    having count(d.id) filter (where d.state in ('PENDING', 'SENDING')) = 0`.execute(tx)
  if (rows.length === 0) return completion

  const history: { id: number; state: string; recipients: EventRecipient[]; deliveries: unknown[] }[] = []
  const failedIds: number[] = []
  for (const row of rows) {
    const recipients = eventRecipients(row.deliveries, config)
    const failed = row.deliveries.some((d) => d.state === 'ERROR')
    const state = failed ? 'ERROR' : 'SUCCESS'
    completion.events.push(
      notifierEvent({
        tenant: row.tenant,
        requestId: row.request_id,
        requestOwner: row.request_owner ?? undefined,
        state,
        recipients,
        // REGARDS reports the request date, so listeners get a date at or before the effective sending.
        notificationDate: row.request_date,
      }),
    )
    if (failed) failedIds.push(row.id)
    else history.push({ id: row.id, state, recipients, deliveries: historyDeliveries(row.deliveries, config) })
  }
  if (history.length > 0) {
    const ids = history.map((h) => h.id)
    // The deliveries and their failed attempts go with the request into the history.
    await sql`insert into request_history
        (id, tenant, request_id, request_owner, request_date, received_at, mode, state, payload, metadata, recipients, deliveries)
      select r.id, r.tenant, r.request_id, r.request_owner, r.request_date, r.received_at, r.mode, h.state, r.payload, r.metadata, h.recipients, h.deliveries
      from notification_request r join jsonb_to_recordset(${JSON.stringify(history)}::jsonb) as h(id bigint, state text, recipients jsonb, deliveries jsonb)
        on h.id = r.id
      on conflict (id) do nothing`.execute(tx)
    await sql`delete from notification_request where id = any(${ids}::bigint[])`.execute(tx)
  }
  if (failedIds.length > 0) {
    await sql`update notification_request set state = 'ERROR', updated_at = now() where id = any(${failedIds}::bigint[])`.execute(tx)
  }
  completion.succeeded = history.length
  completion.failed = failedIds.length
  return completion
}

/** The history's deliveries: each with its recipient's business id and label, ordered by business id. */
function historyDeliveries(deliveries: CompletedDelivery[], config: TenantConfig): unknown[] {
  return deliveries
    .map(({ recipientId, ...delivery }) => {
      const recipient = config.recipientsById.get(recipientId)
      return { recipient: recipient?.businessId ?? String(recipientId), recipientLabel: recipient?.info.recipientLabel ?? null, ...delivery }
    })
    .sort((a, b) => (a.recipient < b.recipient ? -1 : a.recipient > b.recipient ? 1 : 0))
}

/**
 * REGARDS' rules for `recipients`: the recipient's `recipientLabel` (blank ⇒ omitted), deduplicated by
 * label with successes first. Herald refuses `blockingRequired` without `ackRequired` at configuration
 * time, so that case never reaches an event.
 */
export function eventRecipients(deliveries: CompletableRow['deliveries'], config: TenantConfig): EventRecipient[] {
  const byLabel = new Map<string, EventRecipient>()
  const ordered = [...deliveries.filter((d) => d.state === 'SUCCESS'), ...deliveries.filter((d) => d.state === 'ERROR')]
  for (const delivery of ordered) {
    const info = config.recipientsById.get(delivery.recipientId)?.info
    const label = info?.recipientLabel
    if (!info || !label || byLabel.has(label)) continue
    if (info.blockingRequired && !info.ackRequired) continue
    byLabel.set(label, { label, status: delivery.state, ackRequired: info.ackRequired, blockingRequired: info.blockingRequired })
  }
  return [...byLabel.values()]
}
