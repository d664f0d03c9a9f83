import { sql } from 'kysely'
import { insertOutbox } from '../amqp/outbox-relay.ts'
import type { Db } from '../db/client.ts'
import { applyDisseminationChanges } from './apply-disseminations.ts'
import { finishRequests, mergeProcessed, emptyProcessed, type RequestRow } from './finish-requests.ts'
import { processCreations } from './process-creations.ts'
import { processDeletions } from './process-deletions.ts'
import { processPatches } from './process-patches.ts'
import { sendDueNotifications } from './send-notifications.ts'
import { getCatalogSettings } from './settings.ts'

export interface DueWork {
  /** Creation, patch and deletion requests processed (blocked deletions included). */
  processed: number
  /** Requests sent to the notifier. */
  sent: number
  /** Outbox rows written. */
  events: number
  /** Deletions that wait for a blocking dissemination, with the labels they wait for. */
  blocked: { requestId: string; urn: string; labels: string[] }[]
  failed: { requestId: string; errors: string[] }[]
  /** Deletions released by acks carried by patches. */
  released: number
}

/**
 * One pass of the catalog worker for one tenant, in one transaction: processes the due creations, patches and
 * deletions (at most `limit`, HIGH first then oldest), then sends the due notifications (at most `limit`, same
 * order). Rows are claimed with SKIP LOCKED, so instances share the work.
 */
export async function processDueRequests(db: Db, tenant: string, now: Date, limit: number): Promise<DueWork> {
  return db.transaction().execute(async (tx) => {
    const settings = await getCatalogSettings(tx, tenant)
    const { rows } = await sql<RequestRow>`
      select id, request_id, request_owner, type, priority, request_date, urn, provider_id, body, recipients, force_deletion
      from catalog_request
      where tenant = ${tenant} and step = 'LOCAL_DELAYED' and request_date <= ${now.toISOString()}::timestamptz
      order by priority desc, request_date, id
      limit ${limit}
      for update skip locked`.execute(tx)
    const ofType = (type: string) => rows.filter((r) => r.type === type)
    const processed = emptyProcessed()
    mergeProcessed(processed, await processCreations(tx, tenant, ofType('CREATION'), settings.active_notifications))
    mergeProcessed(processed, await processPatches(tx, tenant, ofType('PATCH'), settings.active_notifications, now))
    const deletions = await processDeletions(tx, tenant, ofType('DELETION'), settings.active_notifications)
    mergeProcessed(processed, deletions)
    const acks = await applyDisseminationChanges(tx, tenant, processed.acks)
    await finishRequests(tx, processed)
    const sent = await sendDueNotifications(tx, tenant, now, limit)
    const events = [...processed.events, ...sent.events]
    await insertOutbox(tx, events)
    const byId = new Map(rows.map((r) => [r.id, r]))
    return {
      processed: rows.length,
      sent: sent.sent,
      events: events.length,
      blocked: processed.blocked.map((id) => ({ requestId: byId.get(id)!.request_id, urn: byId.get(id)!.urn!, labels: deletions.blockedBy.get(id) ?? [] })),
      failed: processed.failed.map((f) => ({ requestId: byId.get(f.id)!.request_id, errors: f.errors })),
      released: acks.released,
    }
  })
}

/** Tenants with work due now. */
export async function tenantsWithDueWork(db: Db, now: Date): Promise<string[]> {
  const { rows } = await sql<{ tenant: string }>`select distinct tenant from catalog_request
    where step in ('LOCAL_DELAYED', 'LOCAL_TO_BE_NOTIFIED') and request_date <= ${now.toISOString()}::timestamptz`.execute(db)
  return rows.map((r) => r.tenant)
}

/** The earliest date a waiting request becomes due, if any: the worker sleeps until then (or the next wake-up). */
export async function nextDueDate(db: Db, now: Date): Promise<Date | undefined> {
  const { rows } = await sql<{ next: Date | null }>`select min(request_date) as next from catalog_request
    where step in ('LOCAL_DELAYED', 'LOCAL_TO_BE_NOTIFIED') and request_date > ${now.toISOString()}::timestamptz`.execute(db)
  return rows[0]?.next ?? undefined
}
