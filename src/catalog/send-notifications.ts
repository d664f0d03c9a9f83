import { sql } from 'kysely'
import { HEADER_REQUEST_DATE, HEADER_REQUEST_ID, HEADER_REQUEST_OWNER, eventHeaders, formatDate, toGsonJson } from '../amqp/envelope.ts'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'
import {
  NOTIFICATION_REQUEST_EXCHANGE,
  NOTIFICATION_REQUEST_TYPE,
  SPECIFIC_RECIPIENT_REQUEST_EXCHANGE,
  SPECIFIC_RECIPIENT_REQUEST_TYPE,
} from '../amqp/topology.ts'
import type { Tx } from '../db/client.ts'

export interface NotificationToSend {
  tenant: string
  requestId: string
  requestOwner: string | undefined
  payload: unknown
  metadata: unknown
  recipients: string[] | undefined
}

/**
 * The message rs-fem sends the notifier for one request: rule mode
 * `NotificationRequestEvent {payload, metadata}`; direct mode (recipients given)
 * `SpecificRecipientNotificationRequestEvent {payload, metadata, recipients}`. Headers carry the client's request
 * id and owner and `regards.request.date` = now, which the notifier reports back as `notificationDate`.
 */
export function notificationRequestEvent(n: NotificationToSend, now: Date): OutboxEvent {
  const direct = n.recipients !== undefined && n.recipients.length > 0
  const type = direct ? SPECIFIC_RECIPIENT_REQUEST_TYPE : NOTIFICATION_REQUEST_TYPE
  const headers: Record<string, string> = {
    ...eventHeaders(n.tenant, type),
    [HEADER_REQUEST_ID]: n.requestId,
    [HEADER_REQUEST_DATE]: formatDate(now),
  }
  if (n.requestOwner !== undefined) headers[HEADER_REQUEST_OWNER] = n.requestOwner
  const body = toGsonJson(direct ? { payload: n.payload, metadata: n.metadata, recipients: n.recipients } : { payload: n.payload, metadata: n.metadata })
  return { exchange: direct ? SPECIFIC_RECIPIENT_REQUEST_EXCHANGE : NOTIFICATION_REQUEST_EXCHANGE, headers, body, priority: 1 }
}

/**
 * Sends one tenant's due requests to the notifier, at most `limit`: HIGH before NORMAL before LOW, then the
 * oldest request date first (rs-fem `sendToNotifier`); a request dated in the future waits for its date. The
 * rows are claimed with SKIP LOCKED, so several instances share the backlog without sending twice. Returns how
 * many were sent; their messages are in the outbox of the caller's transaction.
 */
export async function sendDueNotifications(tx: Tx, tenant: string, now: Date, limit: number): Promise<{ events: OutboxEvent[]; sent: number }> {
  const { rows } = await sql<{ id: number; request_id: string; request_owner: string | null; to_notify: unknown; metadata: unknown; recipients: string[] | null }>`
    select id, request_id, request_owner, to_notify, metadata, recipients from catalog_request
    where tenant = ${tenant} and step = 'LOCAL_TO_BE_NOTIFIED' and request_date <= ${now.toISOString()}::timestamptz
    order by priority desc, request_date, id
    limit ${limit}
    for update skip locked`.execute(tx)
  if (rows.length === 0) return { events: [], sent: 0 }
  const events = rows.map((r) =>
    notificationRequestEvent(
      { tenant, requestId: r.request_id, requestOwner: r.request_owner ?? undefined, payload: r.to_notify ?? {}, metadata: r.metadata ?? {}, recipients: r.recipients ?? undefined },
      now,
    ),
  )
  await sql`update catalog_request set step = 'REMOTE_NOTIFICATION_REQUESTED', notified_at = ${now.toISOString()}::timestamptz,
      last_update = now()
    where id = any(${rows.map((r) => r.id)}::bigint[])`.execute(tx)
  return { events, sent: rows.length }
}
