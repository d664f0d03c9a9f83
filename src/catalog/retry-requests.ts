import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import type { RequestType } from './types.ts'

/**
 * Retries requests in error (rs-fem `POST /requests/retry/{type}`): a notification error is sent to the notifier
 * again (the notifier re-notifies only the recipients that failed), a local error is processed again. State
 * goes back to GRANTED, errors are cleared, the request date becomes now. Returns the request ids retried.
 *
 * @example
 * await retryRequests(db, 'project1', { type: 'NOTIFICATION' })
 */
export async function retryRequests(db: Db, tenant: string, select: { requestIds?: string[]; type?: RequestType } = {}): Promise<{ retried: string[] }> {
  const { rows } = await sql<{ request_id: string }>`update catalog_request
    set state = 'GRANTED', errors = null, request_date = now(), last_update = now(),
      step = case when step = 'REMOTE_NOTIFICATION_ERROR' then 'LOCAL_TO_BE_NOTIFIED' else 'LOCAL_DELAYED' end
    where tenant = ${tenant} and state = 'ERROR' and step in ('REMOTE_NOTIFICATION_ERROR', 'LOCAL_ERROR')
      and (${select.requestIds ?? null}::text[] is null or request_id = any(${select.requestIds ?? []}::text[]))
      and (${select.type ?? null}::text is null or type = ${select.type ?? null})
    returning request_id`.execute(db)
  return { retried: rows.map((r) => r.request_id) }
}
