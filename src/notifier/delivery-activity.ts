import { sql } from 'kysely'
import type { Db } from '../db/client.ts'

/** How many hourly buckets the delivery activity covers (the overview's sparkline: the last 24 h). */
export const ACTIVITY_HOURS = 24
/** How many minute buckets the intake rate covers (the last hour). */
export const INTAKE_MINUTES = 60

/** Deliveries sent and attempts failed in one bucket. */
export interface ActivityCount {
  delivered: number
  failed: number
}

/**
 * Per recipient (business id), the deliveries sent and the attempts that failed in each of the last
 * {@link ACTIVITY_HOURS} hours before `now`: index 0 is the hour ending at `now`, so it is also "the last
 * hour". A failure counts every failed attempt (retried later or given up), a delivery counts once, when it
 * was sent.
 *
 * The times come from the live tables (`delivery.sent_at`, `delivery_attempt.at`) and, for completed
 * requests, from the deliveries their history row keeps (migration 0005). A request completes after its
 * last delivery, so history rows completed before the window cannot hold an event inside it: the
 * `completed_at` bound keeps the history's part to a day of rows (index of migration 0015).
 */
export async function deliveryActivity(db: Db, tenant: string, now: Date): Promise<Map<string, ActivityCount[]>> {
  const since = new Date(now.getTime() - ACTIVITY_HOURS * 3_600_000)
  const { rows } = await sql<{ recipient: string; hours_ago: number; delivered: number; failed: number }>`
    with event as (
      select c.business_id as recipient, d.sent_at as at, 1 as delivered, 0 as failed
        from delivery d join plugin_configuration c on c.id = d.recipient_id
        where d.tenant = ${tenant} and d.sent_at > ${since} and d.sent_at <= ${now}
      union all
      select c.business_id, a.at, 0, 1
        from delivery_attempt a join delivery d on d.id = a.delivery_id join plugin_configuration c on c.id = d.recipient_id
        where a.tenant = ${tenant} and a.at > ${since} and a.at <= ${now}
      union all
      select e.recipient, e.at, e.delivered, e.failed
        from request_history h
        cross join lateral (
          select hd->>'recipient' as recipient, (hd->>'sentAt')::timestamptz as at, 1 as delivered, 0 as failed
            from jsonb_array_elements(h.deliveries) hd where hd->>'sentAt' is not null
          union all
          select hd->>'recipient', (ha->>'at')::timestamptz, 0, 1
            from jsonb_array_elements(h.deliveries) hd cross join jsonb_array_elements(hd->'history') ha
        ) e
        where h.tenant = ${tenant} and h.completed_at > ${since} and e.at > ${since} and e.at <= ${now}
    )
    select recipient, floor(extract(epoch from ${now}::timestamptz - at) / 3600)::int as hours_ago,
      sum(delivered)::int as delivered, sum(failed)::int as failed
    from event group by 1, 2`.execute(db)
  const activity = new Map<string, ActivityCount[]>()
  for (const row of rows) {
    let hours = activity.get(row.recipient)
    if (!hours) activity.set(row.recipient, (hours = Array.from({ length: ACTIVITY_HOURS }, () => ({ delivered: 0, failed: 0 }))))
    const bucket = hours[Math.min(row.hours_ago, ACTIVITY_HOURS - 1)]
    bucket.delivered += row.delivered
    bucket.failed += row.failed
  }
  return activity
}

/**
 * Requests received in each of the last {@link INTAKE_MINUTES} minutes before `now` (index 0: the minute
 * ending at `now`), live and completed.
 */
export async function intakePerMinute(db: Db, tenant: string, now: Date): Promise<number[]> {
  const since = new Date(now.getTime() - INTAKE_MINUTES * 60_000)
  const { rows } = await sql<{ minutes_ago: number; received: number }>`
    select floor(extract(epoch from ${now}::timestamptz - received_at) / 60)::int as minutes_ago, count(*)::int as received
    from (
      select received_at from notification_request where tenant = ${tenant} and received_at > ${since} and received_at <= ${now}
      union all
      select received_at from request_history
        where tenant = ${tenant} and completed_at > ${since} and received_at > ${since} and received_at <= ${now}
    ) r
    group by 1`.execute(db)
  const minutes = new Array<number>(INTAKE_MINUTES).fill(0)
  for (const row of rows) minutes[Math.min(row.minutes_ago, INTAKE_MINUTES - 1)] += row.received
  return minutes
}
