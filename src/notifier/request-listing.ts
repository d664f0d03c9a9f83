import { sql, type RawBuilder } from 'kysely'
import type { Db } from '../db/client.ts'
import { recipientInfo } from './recipient-listing.ts'
import { findPlugin } from './plugin-configurations.ts'

/**
 * Notification requests as operators see them: the live table (in progress, or waiting in ERROR /
 * RULE_ERROR) and the history of completed ones, listed together newest first.
 */
export const LIVE_STATES = ['GRANTED', 'SCHEDULED', 'RULE_ERROR', 'ERROR'] as const
export const REQUEST_STATES = [...LIVE_STATES, 'SUCCESS'] as const
export type RequestState = (typeof REQUEST_STATES)[number]

export interface RequestFilter {
  state?: RequestState
  /** Recipient businessId: requests with a delivery to it (completed ones: reported under its label). */
  recipient?: string
  requestId?: string
  owner?: string
  /** Request dates in [from, to). */
  from?: Date
  to?: Date
  /** A payload field (`properties.mission`, checked by the caller: src/ops/request-filter-input.ts) whose value, as text, is `value`. */
  field?: string
  value?: string
}

export interface RequestSummary {
  id: number
  requestId: string
  requestOwner: string | null
  requestDate: Date
  receivedAt: Date
  completedAt: Date | null
  mode: string
  state: string
  deliveries: { pending: number; sending: number; success: number; error: number }
}

interface SummaryRow {
  id: number
  request_id: string
  request_owner: string | null
  request_date: Date
  received_at: Date
  completed_at: Date | null
  mode: string
  state: string
  pending: number
  sending: number
  success: number
  error: number
}

const and = (conditions: RawBuilder<unknown>[]) => (conditions.length === 0 ? sql`true` : sql.join(conditions, sql` and `))

/**
 * The filter's conditions on a live (`r`, notification_request) or completed (`h`, request_history)
 * request, but its recipient (the caller resolves it). The payload field's path is a parameter (text[]).
 */
export function requestConditions(alias: 'r' | 'h', tenant: string, filter: Omit<RequestFilter, 'recipient'>): RawBuilder<unknown>[] {
  const c: RawBuilder<unknown>[] = [sql`${sql.ref(`${alias}.tenant`)} = ${tenant}`]
  if (filter.requestId !== undefined) c.push(sql`${sql.ref(`${alias}.request_id`)} = ${filter.requestId}`)
  if (filter.owner !== undefined) c.push(sql`${sql.ref(`${alias}.request_owner`)} = ${filter.owner}`)
  if (filter.from) c.push(sql`${sql.ref(`${alias}.request_date`)} >= ${filter.from.toISOString()}::timestamptz`)
  if (filter.to) c.push(sql`${sql.ref(`${alias}.request_date`)} < ${filter.to.toISOString()}::timestamptz`)
  if (filter.state) c.push(sql`${sql.ref(`${alias}.state`)} = ${filter.state}`)
  if (filter.field !== undefined && filter.value !== undefined) c.push(sql`${sql.ref(`${alias}.payload`)} #>> ${filter.field.split('.')}::text[] = ${filter.value}`)
  return c
}

/** One page (`limit + 1` rows, for the caller to detect a next page) of requests with id below `beforeId`. */
export async function listRequests(db: Db, tenant: string, filter: RequestFilter, limit: number, beforeId?: number): Promise<RequestSummary[]> {
  const common = (alias: 'r' | 'h'): RawBuilder<unknown>[] => [
    ...requestConditions(alias, tenant, filter),
    ...(beforeId !== undefined ? [sql`${sql.ref(`${alias}.id`)} < ${beforeId}`] : []),
  ]
  const live = common('r')
  const history = common('h')
  if (filter.recipient !== undefined) {
    const recipient = await findPlugin(db, tenant, 'RECIPIENT', filter.recipient)
    if (!recipient) return []
    live.push(sql`exists (select 1 from delivery d where d.request_pk = r.id and d.recipient_id = ${recipient.id})`)
    const label = recipientInfo(recipient).recipientLabel
    history.push(label ? sql`h.recipients @> ${JSON.stringify([{ label }])}::jsonb` : sql`false`)
  }
  const wantLive = !filter.state || filter.state !== 'SUCCESS'
  const wantHistory = !filter.state || filter.state === 'SUCCESS'
  const liveQuery = sql`(select r.id, r.request_id, r.request_owner, r.request_date, r.received_at, null::timestamptz as completed_at, r.mode, r.state
      from notification_request r where ${and(live)} order by r.id desc limit ${limit + 1})`
  const historyQuery = sql`(select h.id, h.request_id, h.request_owner, h.request_date, h.received_at, h.completed_at, h.mode, h.state
      from request_history h where ${and(history)} order by h.id desc limit ${limit + 1})`
  const union = wantLive && wantHistory ? sql`${liveQuery} union all ${historyQuery}` : wantLive ? liveQuery : historyQuery
  const { rows } = await sql<SummaryRow>`
    select p.*,
      coalesce(c.pending, 0) as pending, coalesce(c.sending, 0) as sending, coalesce(c.success, 0) as success, coalesce(c.error, 0) as error
    from (select * from (${union}) u order by id desc limit ${limit + 1}) p
    left join lateral (
      select count(*) filter (where d.state = 'PENDING')::int as pending, count(*) filter (where d.state = 'SENDING')::int as sending,
        count(*) filter (where d.state = 'SUCCESS')::int as success, count(*) filter (where d.state = 'ERROR')::int as error
      from delivery d where d.request_pk = p.id and p.completed_at is null) c on true
    order by p.id desc`.execute(db)
  return rows.map((row) => ({
    id: row.id,
    requestId: row.request_id,
    requestOwner: row.request_owner,
    requestDate: row.request_date,
    receivedAt: row.received_at,
    completedAt: row.completed_at,
    mode: row.mode,
    state: row.state,
    deliveries: { pending: row.pending, sending: row.sending, success: row.success, error: row.error },
  }))
}

export interface DeliveryDetail {
  recipient: string
  recipientLabel: string | null
  state: string
  attempts: number
  nextAttemptAt: Date | null
  sentAt: Date | null
  lastError: string | null
  updatedAt: Date
  history: { attempt: number; at: Date; outcome: string; errorClass: string | null; message: string | null }[]
}

export interface RequestDetail extends Omit<RequestSummary, 'deliveries'> {
  payload: unknown
  metadata: unknown
  ruleErrors: unknown
  /** Live requests: one per recipient, with every failed attempt. */
  deliveries: DeliveryDetail[]
  /** Completed requests: the recipients of the SUCCESS event. */
  recipients: unknown[] | null
}

/** The live request with this id, else the most recent completed one; undefined when neither exists. */
export async function getRequest(db: Db, tenant: string, requestId: string): Promise<RequestDetail | undefined> {
  const { rows: live } = await sql<any>`select id, request_id, request_owner, request_date, received_at, mode, state, payload, metadata, rule_errors
    from notification_request where tenant = ${tenant} and request_id = ${requestId}`.execute(db)
  if (live[0]) {
    const r = live[0]
    const { rows: deliveries } = await sql<any>`select d.id, c.business_id, c.plugin_id, c.parameters,
        d.state, d.attempts, d.next_attempt_at, d.sent_at, d.last_error, d.updated_at,
        coalesce((select jsonb_agg(jsonb_build_object('attempt', a.attempt, 'at', a.at, 'outcome', a.outcome, 'errorClass', a.error_class, 'message', a.message) order by a.id)
          from delivery_attempt a where a.delivery_id = d.id), '[]'::jsonb) as history
      from delivery d join plugin_configuration c on c.id = d.recipient_id
      where d.request_pk = ${r.id} order by c.business_id`.execute(db)
    return {
      id: r.id,
      requestId: r.request_id,
      requestOwner: r.request_owner,
      requestDate: r.request_date,
      receivedAt: r.received_at,
      completedAt: null,
      mode: r.mode,
      state: r.state,
      payload: r.payload,
      metadata: r.metadata,
      ruleErrors: r.rule_errors ?? null,
      recipients: null,
      deliveries: deliveries.map((d) => ({
        recipient: d.business_id,
        recipientLabel: recipientInfo({ plugin_id: d.plugin_id, parameters: d.parameters } as any).recipientLabel ?? null,
        state: d.state,
        attempts: d.attempts,
        nextAttemptAt: d.state === 'PENDING' ? d.next_attempt_at : null,
        sentAt: d.sent_at,
        lastError: d.last_error,
        updatedAt: d.updated_at,
        history: (d.history as any[]).map((a) => ({ ...a, at: new Date(a.at) })),
      })),
    }
  }
  const { rows: history } = await sql<any>`select id, request_id, request_owner, request_date, received_at, completed_at, mode, state, payload, metadata, recipients, deliveries
    from request_history where tenant = ${tenant} and request_id = ${requestId} order by completed_at desc, id desc limit 1`.execute(db)
  const h = history[0]
  if (!h) return undefined
  return {
    id: h.id,
    requestId: h.request_id,
    requestOwner: h.request_owner,
    requestDate: h.request_date,
    receivedAt: h.received_at,
    completedAt: h.completed_at,
    mode: h.mode,
    state: h.state,
    payload: h.payload,
    metadata: h.metadata,
    ruleErrors: null,
    deliveries: (h.deliveries as any[]).map((d) => ({
      ...d,
      nextAttemptAt: null,
      sentAt: d.sentAt ? new Date(d.sentAt) : null,
      updatedAt: new Date(d.updatedAt),
      history: (d.history as any[]).map((a) => ({ ...a, at: new Date(a.at) })),
    })),
    recipients: h.recipients,
  }
}
