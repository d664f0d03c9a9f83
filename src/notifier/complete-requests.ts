import { sql } from 'kysely'
import { PREPARED, type Tx } from '../db/client.ts'
import { outboxDelete, outboxInsert, type OutboxEvent, type OutboxRow } from '../amqp/outbox-relay.ts'
import type { Ctx } from '../context.ts'
import { notifierEvent, type EventRecipient } from './notifier-event.ts'
import { holdsClaim, recordSuccesses, type Successes } from './record-results.ts'
import { resetFailures } from './recipient-state.ts'
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
  /** Set when this delivery is one of the `successes` being recorded: its id. */
  recordedId: number | null
}

export interface Completion {
  events: OutboxEvent[]
  succeeded: number
  failed: number
  /** With `toOutbox`: the events as the outbox holds them, for OutboxRelay.publishCommitted after the commit. */
  outboxRows?: OutboxRow[]
  /** With `successes`: the deliveries recorded SUCCESS (recordSuccesses). */
  recorded?: number[]
}

/**
 * The one way a notification request is completed, whatever brought it there (its last delivery
 * recorded, a request that matched nobody or a retry with nothing left to send at intake, the
 * stalled-completion pass, a recipient deleted with its deliveries): the given requests of one tenant
 * that are SCHEDULED with nothing left to deliver end in SUCCESS (moved to the history with their
 * deliveries) or ERROR (kept, waiting for a retry), each with its completion NotifierEvent, which the
 * caller writes to the outbox in the same transaction, after its own earlier events (a GRANTED before its
 * SUCCESS); or, with `toOutbox`, the write itself does, one round trip fewer, when the caller has no
 * event of its own. With `successes`, the same transaction records those deliveries, and their requests
 * are completed with the given ones. After the commit the caller calls {@link reportCompletion}.
 *
 * Three statements whatever the batch: the lock, the read, and one write (JSON-array parameters); a
 * fourth records the successes whose request stays (another delivery still in flight, or a failure).
 * The successes of a request that moves to the history are read as recorded and never written: their
 * rows go with their request.
 */
export async function completeRequests(
  tx: Tx,
  requestPks: number[],
  // Passed in, never loaded here: a query through the pool inside this transaction would wait forever
  // for PGlite's single connection.
  config: TenantConfig,
  /** `toOutbox.deleting`: confirmed outbox rows the same write deletes (OutboxRelay.takeConfirmed); deleted when `outboxRows` is set. */
  opts: { toOutbox?: { fromMemory: boolean; deleting?: number[] }; successes?: Successes } = {},
): Promise<Completion> {
  const completion: Completion = { events: [], succeeded: 0, failed: 0 }
  const successes = opts.successes?.deliveries.length ? opts.successes : undefined
  if (successes) requestPks = [...new Set([...requestPks, ...successes.deliveries.map((d) => d.requestPk)])]
  if (requestPks.length === 0) return completion
  // Locked in id order before reading, in a statement of its own: two workers finishing the last
  // deliveries of one request wait for each other (never deadlock), and the read below, a new statement,
  // sees what the first one committed, so they can neither both miss nor both send its completion.
  // The successes reset their recipients' runs of failures in the same statement.
  const reset = successes ? sql`with reset as (${resetFailures(successes.recipientIds)}) ` : sql``
  await sql`${PREPARED}${reset}select id from notification_request where id = any(${requestPks}::bigint[]) order by id for update`.execute(tx)
  // Under those locks, so a success is recorded and read by whoever completes its request, never in
  // between: the other instances' completions of these requests wait. A success is read as recorded
  // where recordSuccesses would record it (holdsClaim).
  const recording = JSON.stringify(successes?.deliveries.map(({ deliveryId, attempt }) => ({ id: deliveryId, attempt })) ?? [])
  const { rows } = await sql<CompletableRow>`${PREPARED}
    select r.id, r.tenant, r.request_id, r.request_owner, r.request_date,
      coalesce(jsonb_agg(jsonb_build_object('recipientId', d.recipient_id, 'state', case when s.id is null then d.state else 'SUCCESS' end, 'attempts', d.attempts,
          'sentAt', case when s.id is null then d.sent_at else now() end, 'lastError', case when s.id is null then d.last_error end,
          'updatedAt', case when s.id is null then d.updated_at else now() end, 'recordedId', s.id,
          'history', coalesce((select jsonb_agg(jsonb_build_object('attempt', a.attempt, 'at', a.at, 'outcome', a.outcome,
              'errorClass', a.error_class, 'message', a.message) order by a.id)
            from delivery_attempt a where a.delivery_id = d.id), '[]'::jsonb)) order by d.id)
        filter (where d.id is not null), '[]'::jsonb) as deliveries
    from notification_request r left join delivery d on d.request_pk = r.id
      left join jsonb_to_recordset(${recording}::jsonb) as s(id bigint, attempt int) on s.id = d.id and ${holdsClaim(successes?.instanceId ?? null, 's.attempt')}
    where r.id = any(${requestPks}::bigint[]) and r.tenant = ${config.tenant} and r.state = 'SCHEDULED'
    group by r.id
    having count(d.id) filter (where d.state in ('PENDING', 'SENDING') and s.id is null) = 0`.execute(tx)
  if (successes) {
    // The rows of the requests moved to the history below are deleted with them: only the others' are written.
    const moving = new Set(rows.filter((row) => !row.deliveries.some((d) => d.state === 'ERROR')).map((row) => row.id))
    const staying = successes.deliveries.filter((d) => !moving.has(d.requestPk))
    const recorded = rows.filter((row) => moving.has(row.id)).flatMap((row) => row.deliveries.flatMap((d) => (d.recordedId === null ? [] : [d.recordedId])))
    completion.recorded = staying.length > 0 ? [...recorded, ...(await recordSuccesses(tx, { ...successes, deliveries: staying }))] : recorded
  }
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
  // The successes leave the live table for the history, with their deliveries and failed attempts (the
  // delete returns the row it removes: no second read); the failures stay, in ERROR.
  const markFailed = sql`update notification_request set state = 'ERROR', updated_at = now() where id = any(${failedIds}::bigint[])`
  const { rows: outboxRows } = await sql<OutboxRow>`${PREPARED}with completed as (
      select * from jsonb_to_recordset(${JSON.stringify(history)}::jsonb) as h(id bigint, state text, recipients jsonb, deliveries jsonb)
    ), moved as (
      delete from notification_request r using completed h where r.id = h.id
      returning r.id, r.tenant, r.request_id, r.request_owner, r.request_date, r.received_at, r.mode, h.state, r.payload, r.metadata, h.recipients, h.deliveries
    ), kept as (
      insert into request_history
        (id, tenant, request_id, request_owner, request_date, received_at, mode, state, payload, metadata, recipients, deliveries)
      select id, tenant, request_id, request_owner, request_date, received_at, mode, state, payload, metadata, recipients, deliveries from moved
      on conflict (id) do nothing
    )
    ${opts.toOutbox ? sql`, failed as (${markFailed}), gone as (${outboxDelete(opts.toOutbox.deleting ?? [])}) ${outboxInsert(completion.events, opts.toOutbox)}` : markFailed}`.execute(tx)
  completion.succeeded = history.length
  completion.failed = failedIds.length
  if (opts.toOutbox) completion.outboxRows = outboxRows
  return completion
}

/** After the commit of a completion: its metrics (its events are the caller's, published from memory or by the relay). */
export function reportCompletion(ctx: Pick<Ctx, 'events'>, tenant: string, completion: Completion): void {
  if (completion.succeeded > 0) ctx.events.safeEmit('request:completed', { tenant, state: 'SUCCESS', count: completion.succeeded })
  if (completion.failed > 0) ctx.events.safeEmit('request:completed', { tenant, state: 'ERROR', count: completion.failed })
}

/** The history's deliveries: each with its recipient's business id and label, ordered by business id. */
function historyDeliveries(deliveries: CompletedDelivery[], config: TenantConfig): unknown[] {
  return deliveries
    .map(({ recipientId, recordedId: _recorded, ...delivery }) => {
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
