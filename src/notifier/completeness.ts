import { sql } from 'kysely'
import type { Db } from '../db/client.ts'

/** A recipient as completeness sees it: the label its acknowledgements carry, and whether it must send one. */
export interface AckTarget {
  businessId: string
  /** The recipientLabel of its notifications, which the catalog records acknowledgements under. */
  label: string | null
  ackRequired: boolean
}

/** One recipient × UTC day: deliveries matched, delivered, and (recipients requiring one) acknowledged. */
export interface CompletenessCount {
  matched: number
  delivered: number
  acknowledged: number
}

/** A product matched for a recipient but not delivered, or delivered but not acknowledged. */
export interface GapItem {
  requestId: string
  /** The payload's `id` (a feature's id, an AIP's id), null when it has none. */
  payloadId: string | null
  /** The product's URN (payload `urn`, else `originUrn`), under which the catalog records acknowledgements. */
  urn: string | null
  receivedAt: Date
  /** The delivery's state: PENDING, SENDING or ERROR (not delivered), SUCCESS (delivered, not acknowledged). */
  state: string
  /** Still a live request: its failed delivery can be retried (a completed one has nothing left to retry). */
  live: boolean
}

/** A UTC day, `YYYY-MM-DD`: the first instant of it. */
export const dayStart = (day: string) => new Date(`${day}T00:00:00.000Z`)

/**
 * The deliveries of requests received in [from, to), one row per request × recipient of `targets`, live
 * and completed (a completed request keeps its deliveries in its history row, migration 0005), with its
 * UTC day and whether the catalog recorded the recipient's acknowledgement of the product: an
 * acknowledgement (DisseminationAckEvent) sets `ack_date` on the product's dissemination row of the
 * recipient's label (src/catalog/handle-acks.ts), and is looked for only where one is required.
 */
function matchedDeliveries(tenant: string, targets: AckTarget[], from: Date, to: Date) {
  const recordset = JSON.stringify(targets.map((t) => ({ recipient: t.businessId, label: t.label, ack_required: t.ackRequired })))
  return sql`
    target as (select * from jsonb_to_recordset(${recordset}::jsonb) as t(recipient text, label text, ack_required boolean)),
    delivered as (
      select c.business_id as recipient, r.request_id, r.payload, r.received_at, d.state, true as live
        from notification_request r join delivery d on d.request_pk = r.id join plugin_configuration c on c.id = d.recipient_id
        where r.tenant = ${tenant} and r.received_at >= ${from} and r.received_at < ${to}
      union all
      select hd->>'recipient', h.request_id, h.payload, h.received_at, hd->>'state', false
        from request_history h cross join jsonb_array_elements(h.deliveries) hd
        -- A request completes after it is received: completed_at bounds the scan (index of migration 0015).
        where h.tenant = ${tenant} and h.completed_at >= ${from} and h.received_at >= ${from} and h.received_at < ${to}
    ),
    matched as (
      select m.recipient, m.request_id, m.payload->>'id' as payload_id, coalesce(m.payload->>'urn', m.payload->>'originUrn') as urn,
        m.received_at, to_char(m.received_at at time zone 'UTC', 'YYYY-MM-DD') as day, m.state, m.live, t.ack_required,
        t.ack_required and m.state = 'SUCCESS' and exists (
          select 1 from catalog_product p join catalog_dissemination cd on cd.product_id = p.id
          where p.tenant = ${tenant} and p.urn = coalesce(m.payload->>'urn', m.payload->>'originUrn') and cd.label = t.label and cd.ack_date is not null
        ) as acknowledged
      from delivered m join target t on t.recipient = m.recipient
    )`
}

/** Per recipient (business id) and UTC day (`YYYY-MM-DD`), the counts of requests received in [from, to). */
export async function completenessCounts(db: Db, tenant: string, targets: AckTarget[], from: Date, to: Date): Promise<Map<string, Map<string, CompletenessCount>>> {
  const { rows } = await sql<{ recipient: string; day: string; matched: number; delivered: number; acknowledged: number }>`
    with ${matchedDeliveries(tenant, targets, from, to)}
    select recipient, day, count(*)::int as matched, count(*) filter (where state = 'SUCCESS')::int as delivered,
      count(*) filter (where acknowledged)::int as acknowledged
    from matched group by recipient, day`.execute(db)
  const counts = new Map<string, Map<string, CompletenessCount>>()
  for (const row of rows) {
    if (!counts.has(row.recipient)) counts.set(row.recipient, new Map())
    counts.get(row.recipient)!.set(row.day, { matched: row.matched, delivered: row.delivered, acknowledged: row.acknowledged })
  }
  return counts
}

/**
 * What is missing for one recipient on one UTC day: the products matched but not delivered, and, when the
 * recipient requires an acknowledgement, delivered but not acknowledged; oldest first, at most `limit`
 * (and one more, for the caller to tell that there are more).
 */
export async function completenessGap(db: Db, tenant: string, target: AckTarget, day: string, limit: number): Promise<GapItem[]> {
  const from = dayStart(day)
  const to = new Date(from.getTime() + 86_400_000)
  const { rows } = await sql<{ request_id: string; payload_id: string | null; urn: string | null; received_at: Date; state: string; live: boolean }>`
    with ${matchedDeliveries(tenant, [target], from, to)}
    select request_id, payload_id, urn, received_at, state, live from matched
    where state <> 'SUCCESS' or (ack_required and not acknowledged)
    order by received_at, request_id limit ${limit + 1}`.execute(db)
  return rows.map((r) => ({ requestId: r.request_id, payloadId: r.payload_id, urn: r.urn, receivedAt: r.received_at, state: r.state, live: r.live }))
}
