import { sql } from 'kysely'
import { PREPARED, type Db } from '../db/client.ts'
import type { DeliveryItem } from '../senders/sender.ts'

/** How long a claimed batch may take before another worker may take it over (a crashed instance). */
export const LEASE_SECONDS = 120

/** A delivery claimed by this instance, with its product, ready to send. */
export type ClaimedDelivery = DeliveryItem & { requestPk: number }

/**
 * Claims up to `limit` due deliveries of one recipient, highest priority first, then oldest request:
 * one statement (claim + read of the products). SKIP LOCKED lets instances claim side by side without
 * ever taking the same row.
 */
export async function claimDeliveries(
  db: Db,
  /** The claiming instance: its deliveries go back to PENDING as soon as it stops beating. */
  instanceId: string,
  recipientId: number,
  limit: number,
  /** A probe of a parked recipient takes the first waiting delivery, whatever its retry time. */
  dueOnly = true,
): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<{
    id: number
    request_pk: number
    attempts: number
    tenant: string
    request_id: string
    request_owner: string | null
    request_date: Date
    payload: Record<string, unknown>
    metadata: Record<string, unknown>
  }>`${PREPARED}
    with claimed as (
      update delivery d set state = 'SENDING', attempts = d.attempts + 1, claimed_by = ${instanceId}::uuid,
        lease_until = now() + make_interval(secs => ${LEASE_SECONDS}), updated_at = now()
      where d.id in (
        select id from delivery
        where recipient_id = ${recipientId} and state = 'PENDING' and (next_attempt_at <= now() or not ${dueOnly})
        order by priority desc, request_date, id
        limit ${limit}
        for update skip locked)
      returning d.id, d.request_pk, d.attempts, d.tenant, d.priority, d.request_date
    )
    select c.id, c.request_pk, c.attempts, c.tenant, r.request_id, r.request_owner, r.request_date, r.payload, r.metadata
    from claimed c join notification_request r on r.id = c.request_pk
    order by c.priority desc, c.request_date, c.id`.execute(db)
  return rows.map((row) => ({
    deliveryId: row.id,
    requestPk: row.request_pk,
    tenant: row.tenant,
    requestId: row.request_id,
    requestOwner: row.request_owner ?? undefined,
    requestDate: row.request_date,
    payload: row.payload,
    metadata: row.metadata,
    attempt: row.attempts,
  }))
}

export interface RecipientWithWork {
  recipient_id: number
  tenant: string
  parked: boolean
  /** Null while parked by an operator: no probe until un-parked by hand. */
  next_probe_at: Date | null
}

/** Recipients that have deliveries waiting: a loose index scan, one probe per recipient, not per row. */
export async function recipientsWithWork(db: Db): Promise<RecipientWithWork[]> {
  const { rows } = await sql<RecipientWithWork>`
    with recursive r as (
      (select recipient_id from delivery where state = 'PENDING' order by recipient_id limit 1)
      union all
      select (select d.recipient_id from delivery d where d.state = 'PENDING' and d.recipient_id > r.recipient_id
              order by d.recipient_id limit 1)
      from r where r.recipient_id is not null
    )
    select r.recipient_id, c.tenant, coalesce(s.parked, false) as parked, s.next_probe_at
    from r join plugin_configuration c on c.id = r.recipient_id
      left join recipient_state s on s.recipient_id = r.recipient_id`.execute(db)
  return rows
}
