import { sql } from 'kysely'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'
import type { Tx } from '../db/client.ts'
import type { DisseminationChange } from './apply-disseminations.ts'
import type { RequestType } from './types.ts'

/** A request as the worker loads it. */
export interface RequestRow {
  id: number
  request_id: string
  request_owner: string | null
  type: RequestType
  priority: number
  request_date: Date
  urn: string | null
  provider_id: string | null
  body: any
  recipients: string[] | null
  force_deletion: boolean
}

/** What processing decided for a batch of requests; {@link finishRequests} writes it. */
export interface Processed {
  events: OutboxEvent[]
  /** Requests to send to the notifier next, with the product as notified and the metadata. */
  notify: { id: number; urn: string; toNotify: unknown; metadata: Record<string, unknown> }[]
  /** Requests that are over (moved to the history). */
  done: number[]
  failed: { id: number; errors: string[] }[]
  /** Deletions waiting on a blocking dissemination. */
  blocked: number[]
  /** Acknowledgements carried by patches (`metadata.acknowledgedRecipient`). */
  acks: DisseminationChange[]
}

export const emptyProcessed = (): Processed => ({ events: [], notify: [], done: [], failed: [], blocked: [], acks: [] })

export function mergeProcessed(into: Processed, from: Processed): Processed {
  into.events.push(...from.events)
  into.notify.push(...from.notify)
  into.done.push(...from.done)
  into.failed.push(...from.failed)
  into.blocked.push(...from.blocked)
  into.acks.push(...from.acks)
  return into
}

/** Writes the new step of every processed request: one statement per kind of outcome. */
export async function finishRequests(tx: Tx, processed: Processed): Promise<void> {
  if (processed.notify.length > 0) {
    const rows = processed.notify.map((n) => ({ id: n.id, urn: n.urn, to_notify: n.toNotify, metadata: n.metadata }))
    await sql`update catalog_request r set step = 'LOCAL_TO_BE_NOTIFIED', urn = t.urn, to_notify = t.to_notify,
        metadata = t.metadata, last_update = now()
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as t(id bigint, urn text, to_notify jsonb, metadata jsonb)
      where r.id = t.id`.execute(tx)
  }
  if (processed.failed.length > 0) {
    await sql`update catalog_request r set state = 'ERROR', step = 'LOCAL_ERROR', errors = t.errors, last_update = now()
      from jsonb_to_recordset(${JSON.stringify(processed.failed)}::jsonb) as t(id bigint, errors jsonb)
      where r.id = t.id`.execute(tx)
  }
  if (processed.blocked.length > 0) {
    await sql`update catalog_request set step = 'WAITING_BLOCKING_DISSEMINATION', last_update = now()
      where id = any(${processed.blocked}::bigint[]) and step <> 'WAITING_BLOCKING_DISSEMINATION'`.execute(tx)
  }
  await moveToHistory(tx, processed.done, [])
}

/**
 * Successful requests leave the live table (a re-sent id is a new request, as in REGARDS) for the history,
 * with the recipients the notifier reported, kept for the console and audits until the retention period ends.
 */
export async function moveToHistory(tx: Tx, ids: number[], recipients: { id: number; recipients: unknown[] }[]): Promise<void> {
  if (ids.length === 0) return
  await sql`insert into catalog_request_history (id, tenant, request_id, request_owner, type, urn, provider_id, priority,
      request_date, registration_date, recipients)
    select r.id, r.tenant, r.request_id, r.request_owner, r.type, r.urn, r.provider_id, r.priority, r.request_date,
      r.registration_date, coalesce(t.recipients, '[]'::jsonb)
    from catalog_request r
      left join jsonb_to_recordset(${JSON.stringify(recipients)}::jsonb) as t(id bigint, recipients jsonb) on t.id = r.id
    where r.id = any(${ids}::bigint[])
    on conflict (id) do nothing`.execute(tx)
  await sql`delete from catalog_request where id = any(${ids}::bigint[])`.execute(tx)
}
