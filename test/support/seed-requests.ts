import { sql } from 'kysely'
import type { Db } from '../../src/db/client.ts'

/** What {@link seedRequests} wrote, for tests and benches to filter on. */
export interface SeededRequests {
  tenant: string
  /** Recipient businessIds: every request with deliveries has one to `common`, a few have one to `rare`. */
  recipients: { common: string; rare: string }
  /** An owner among 20 (5 % of the requests each) and one that owns 0.1 % of them. */
  owners: { common: string; rare: string }
  /** Payload `properties.mission`: 50 missions, 2 % of the requests each. */
  mission: string
  /** Request dates: one a second, the newest `count` seconds before `newest`. */
  newest: Date
  /** A request id of the middle of the range (a completed one). */
  middleRequestId: string
}

/**
 * Fills a migrated database with `count` notification requests of one tenant in a few set-based
 * statements (seconds for 100,000): 60 % completed (request_history, SUCCESS, with their deliveries and
 * event recipients), the rest live — 10 % GRANTED, 20 % SCHEDULED with PENDING/SENDING/SUCCESS
 * deliveries, 8 % ERROR with a failed delivery and its attempt, 2 % RULE_ERROR. Live and completed
 * requests interleave in id order, as they do once Herald has run for a while. Ends with ANALYZE.
 */
export async function seedRequests(db: Db, opts: { tenant?: string; count: number }): Promise<SeededRequests> {
  const tenant = opts.tenant ?? 'scale'
  const n = opts.count
  const seeded: SeededRequests = {
    tenant,
    recipients: { common: `${tenant}-common`, rare: `${tenant}-rare` },
    owners: { common: 'owner-7', rare: 'owner-rare' },
    mission: 'mission-13',
    newest: new Date(),
    middleRequestId: '',
  }
  const recipient = (businessId: string) => ({
    businessId,
    parameters: JSON.stringify([
      { name: 'exchange', value: `ext.${businessId}` },
      { name: 'recipientLabel', value: `label-${businessId}` },
    ]),
  })
  for (const r of [recipient(seeded.recipients.common), recipient(seeded.recipients.rare)]) {
    await sql`insert into plugin_configuration (tenant, business_id, plugin_id, kind, label, parameters)
      values (${tenant}, ${r.businessId}, 'RabbitMQSender', 'RECIPIENT', ${r.businessId}, ${r.parameters}::jsonb)`.execute(db)
  }
  const { rows } = await sql<{ base: number }>`select nextval('notification_request_id_seq') as base`.execute(db)
  const base = rows[0].base
  await sql`select setval('notification_request_id_seq', ${base + n})`.execute(db)

  // One row per request: its id, kind (by i % 50) and fields; the two inserts below take their share.
  const requests = sql`(select ${base}::bigint + i as id, i, i % 50 as k,
      md5(${tenant} || ':' || i)::uuid::text as request_id,
      case when i % 997 = 0 then 'owner-rare' else 'owner-' || (i % 20) end as request_owner,
      ${seeded.newest.toISOString()}::timestamptz - (${n} - i) * interval '1 second' as request_date,
      jsonb_build_object('id', 'product-' || i, 'properties', jsonb_build_object('mission', 'mission-' || (i / 50 % 50), 'nature', case when i % 2 = 0 then 'A' else 'B' end, 'title', 'Product ' || i)) as payload,
      jsonb_build_object('action', 'CREATED', 'session', 'session-' || (i % 7)) as metadata,
      -- 199 and 997 are prime to 50: the rare recipient and owner get every kind of request below.
      i % 199 = 1 as to_rare
    from generate_series(1, ${n}) as i)`
  const labelOf = (businessId: string) => `label-${businessId}`
  await sql`insert into request_history (id, tenant, request_id, request_owner, request_date, received_at, completed_at, mode, state, payload, metadata, recipients, deliveries)
    select q.id, ${tenant}, q.request_id, q.request_owner, q.request_date, q.request_date, q.request_date + interval '2 seconds', 'RULES', 'SUCCESS', q.payload, q.metadata,
      jsonb_build_array(jsonb_build_object('label', ${labelOf(seeded.recipients.common)}::text, 'status', 'SUCCESS', 'ackRequired', false, 'blockingRequired', false))
        || case when q.to_rare then jsonb_build_array(jsonb_build_object('label', ${labelOf(seeded.recipients.rare)}::text, 'status', 'SUCCESS', 'ackRequired', false, 'blockingRequired', false)) else '[]' end,
      jsonb_build_array(jsonb_build_object('recipient', ${seeded.recipients.common}::text, 'recipientLabel', ${labelOf(seeded.recipients.common)}::text, 'state', 'SUCCESS',
        'attempts', 1, 'sentAt', q.request_date + interval '1 second', 'lastError', null, 'updatedAt', q.request_date + interval '1 second', 'history', '[]'::jsonb))
    from ${requests} q where q.k < 30`.execute(db)
  await sql`insert into notification_request (id, tenant, request_id, request_owner, request_date, received_at, not_before, mode, state, payload, metadata, rule_errors)
    select q.id, ${tenant}, q.request_id, q.request_owner, q.request_date, q.request_date, q.request_date, 'RULES',
      case when q.k < 35 then 'GRANTED' when q.k < 45 then 'SCHEDULED' when q.k < 49 then 'ERROR' else 'RULE_ERROR' end,
      q.payload, q.metadata, case when q.k = 49 then '["rule created: payload_rule does not parse"]'::jsonb end
    from ${requests} q where q.k >= 30`.execute(db)
  // SCHEDULED: the common recipient PENDING, SENDING or SUCCESS; ERROR: it failed. The rare one: SUCCESS.
  await sql`insert into delivery (tenant, request_pk, recipient_id, state, request_date, attempts, next_attempt_at, lease_until, last_error, sent_at)
    select r.tenant, r.id, c.id, s.state, r.request_date, case when s.state = 'PENDING' then 0 else 1 end, r.request_date,
      case when s.state = 'SENDING' then now() + interval '1 minute' end, case when s.state = 'ERROR' then 'AMQP_DECLARE: no exchange' end,
      case when s.state = 'SUCCESS' then r.request_date + interval '1 second' end
    from notification_request r
      cross join lateral (select case when r.state = 'ERROR' then 'ERROR' else (array['PENDING', 'SENDING', 'SUCCESS'])[1 + r.id % 3] end as state) s
      join plugin_configuration c on c.tenant = r.tenant and c.business_id = ${seeded.recipients.common}
    where r.tenant = ${tenant} and r.id > ${base} and r.state in ('SCHEDULED', 'ERROR')
    union all
    select r.tenant, r.id, c.id, 'SUCCESS', r.request_date, 1, r.request_date, null, null, r.request_date + interval '1 second'
    from notification_request r join plugin_configuration c on c.tenant = r.tenant and c.business_id = ${seeded.recipients.rare}
    where r.tenant = ${tenant} and r.id > ${base} and r.state in ('SCHEDULED', 'ERROR') and (r.id - ${base}) % 199 = 1`.execute(db)
  await sql`insert into delivery_attempt (tenant, delivery_id, attempt, at, outcome, error_class, message)
    select d.tenant, d.id, 1, d.request_date + interval '1 second', 'ERROR', 'AMQP_DECLARE', 'no exchange ext.' || ${seeded.recipients.common}::text
    from delivery d where d.tenant = ${tenant} and d.state = 'ERROR' and d.request_pk > ${base}`.execute(db)
  const middle = await sql<{ request_id: string }>`select request_id from request_history where id = ${base + Math.floor(n / 2 / 50) * 50 + 1}`.execute(db)
  seeded.middleRequestId = middle.rows[0]?.request_id ?? ''
  await sql`analyze`.execute(db)
  return seeded
}
