import { sql } from 'kysely'
import type { AsyncMessage } from 'rabbitmq-client'
import type { MessageOutcome } from '../amqp/consume-batches.ts'
import { HEADER_TENANT, headerString, parseRequestDate } from '../amqp/envelope.ts'
import { runIntakePipeline } from '../amqp/intake-pipeline.ts'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'
import type { Ctx } from '../context.ts'
import type { Tx } from '../db/client.ts'
import { applyDisseminationChanges, type DisseminationChange } from './apply-disseminations.ts'
import { addCounters } from './counters.ts'
import { FEM_ERRORS, featureRequestEvent } from './feature-request-event.ts'
import { moveToHistory } from './finish-requests.ts'
import { parseJsonObject } from './parse-fem-message.ts'
import type { RequestType } from './types.ts'

/** A `NotifierEvent` as the catalog reads it. */
export interface NotifierEventIn {
  requestId: string
  state: string
  recipients: { label: string; status: string; ackRequired: boolean; blockingRequired: boolean }[]
  notificationDate: Date | undefined
  errors: string[]
}

/** Reads a NotifierEvent; undefined with a reason when it cannot be one. */
export function parseNotifierEvent(msg: AsyncMessage, maxBytes: number): { tenant: string; event: NotifierEventIn } | { error: string } {
  const tenant = headerString(msg.headers, HEADER_TENANT)?.trim()
  if (!tenant) return { error: 'missing header regards.tenant' }
  const body = parseJsonObject(msg.body, maxBytes)
  if ('error' in body) return body
  const { requestId, state, recipients, notificationDate, errors } = body.value
  if (typeof requestId !== 'string' || requestId === '') return { error: 'requestId is mandatory' }
  if (typeof state !== 'string') return { error: 'state is mandatory' }
  const list = Array.isArray(recipients) ? recipients : []
  return {
    tenant,
    event: {
      requestId,
      state,
      recipients: list
        .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null && typeof (r as any).label === 'string' && (r as any).label !== '')
        .map((r) => ({ label: r.label as string, status: String(r.status ?? 'SUCCESS'), ackRequired: r.ackRequired === true, blockingRequired: r.blockingRequired === true })),
      notificationDate: typeof notificationDate === 'string' ? parseRequestDate(notificationDate) : undefined,
      errors: Array.isArray(errors) ? errors.map(String) : [],
    },
  }
}

export interface NotifierOutcome {
  events: OutboxEvent[]
  succeeded: number
  failed: { requestId: string; state: string }[]
  recorded: number
  /** Blocked deletions sent back to be checked. */
  released: number
}

/**
 * Applies one tenant's NotifierEvents (rs-fem FeatureNotifierListener / ingest AIPNotifierListener), in order:
 * - SUCCESS: one dissemination info per reported recipient that has a label (a PUT), the client
 *   gets `SUCCESS` with type NOTIFICATION (whatever the request's type), and the request moves to the history;
 * - DENIED or ERROR: the client gets `ERROR` ("Notification error" and the notifier's reasons), the request
 *   waits in REMOTE_NOTIFICATION_ERROR for a retry, and **no** dissemination is recorded;
 * - GRANTED, TO_SCHEDULE_BY_RECIPIENT, SCHEDULED, and ids the catalog did not send: no effect.
 */
export async function applyNotifierEvents(tx: Tx, tenant: string, events: NotifierEventIn[], now: Date): Promise<NotifierOutcome> {
  const out: NotifierOutcome = { events: [], succeeded: 0, failed: [], recorded: 0, released: 0 }
  const final = events.filter((e) => e.state === 'SUCCESS' || e.state === 'ERROR' || e.state === 'DENIED')
  if (final.length === 0) return out
  const { rows } = await sql<{ id: number; request_id: string; request_owner: string | null; type: RequestType; urn: string | null }>`
    select id, request_id, request_owner, type, urn from catalog_request
    where tenant = ${tenant} and request_id = any(${[...new Set(final.map((e) => e.requestId))]}::text[])
      and step = 'REMOTE_NOTIFICATION_REQUESTED'
    order by id for update`.execute(tx)
  const live = new Map(rows.map((r) => [r.request_id, r]))
  const puts: DisseminationChange[] = []
  const done: number[] = []
  const doneRecipients: { id: number; recipients: unknown[] }[] = []
  const failed: { id: number; errors: string[] }[] = []
  for (const event of final) {
    const request = live.get(event.requestId)
    if (!request) continue
    live.delete(event.requestId)
    const owner = request.request_owner ?? undefined
    const respond = request.type !== 'AIP_DISSEMINATION'
    if (event.state === 'SUCCESS') {
      const date = event.notificationDate ?? now
      for (const r of event.recipients) {
        if (r.status !== 'SUCCESS' || !request.urn) continue
        puts.push({ kind: 'PUT', urn: request.urn, label: r.label, date, ackRequired: r.ackRequired, blocking: r.blockingRequired && r.ackRequired })
      }
      done.push(request.id)
      doneRecipients.push({ id: request.id, recipients: event.recipients })
      out.succeeded++
      if (respond) out.events.push(featureRequestEvent({ tenant, type: 'NOTIFICATION', requestId: request.request_id, requestOwner: owner, urn: request.urn ?? undefined, state: 'SUCCESS' }))
    } else {
      const errors = [FEM_ERRORS.notificationError, ...event.errors]
      failed.push({ id: request.id, errors })
      out.failed.push({ requestId: request.request_id, state: event.state })
      if (respond) out.events.push(featureRequestEvent({ tenant, type: 'NOTIFICATION', requestId: request.request_id, requestOwner: owner, urn: request.urn ?? undefined, state: 'ERROR', errors }))
    }
  }
  const applied = await applyDisseminationChanges(tx, tenant, puts)
  out.recorded = applied.outcomes['put-new'] + applied.outcomes['put-renotified']
  out.released = applied.released
  // A notification whose recipient had already acknowledged it (the ack overtook the notifier's SUCCESS).
  await addCounters(tx, tenant, { 'dissemination.already-acknowledged': applied.outcomes['put-unchanged'] })
  await moveToHistory(tx, done, doneRecipients)
  if (failed.length > 0) {
    await sql`update catalog_request r set state = 'ERROR', step = 'REMOTE_NOTIFICATION_ERROR', errors = t.errors, last_update = now()
      from jsonb_to_recordset(${JSON.stringify(failed)}::jsonb) as t(id bigint, errors jsonb) where r.id = t.id`.execute(tx)
  }
  return out
}

/** The NotifierEvent consumer's batch handler, through the intake pipeline: malformed events dead-lettered alone. */
export function handleNotifierEventBatch(ctx: Ctx, messages: AsyncMessage[], onReleased: () => void): Promise<MessageOutcome[]> {
  const now = new Date()
  return runIntakePipeline<NotifierEventIn, NotifierOutcome>(ctx, messages, {
    read(msg) {
      const parsed = parseNotifierEvent(msg, ctx.config.maxMessageBytes)
      if ('error' in parsed) return { deadLetter: `not a NotifierEvent: ${parsed.error}` }
      if (ctx.config.tenants && !ctx.config.tenants.has(parsed.tenant)) return { ignored: true }
      return { tenant: parsed.tenant, item: parsed.event }
    },
    apply: (tx, tenant, events) => applyNotifierEvents(tx, tenant, events, now),
    report(tenant, out) {
      for (const f of out.failed) ctx.log.warn({ tenant, requestId: f.requestId, state: f.state }, 'notifier reported the notification in error')
      if (out.succeeded > 0) ctx.log.debug({ tenant, succeeded: out.succeeded, recorded: out.recorded }, 'notifications succeeded')
      if (out.released > 0) onReleased()
    },
  })
}
