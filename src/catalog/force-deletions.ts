import { sql } from 'kysely'
import type { Db } from '../db/client.ts'

/**
 * Forces deletions that wait for a blocking dissemination (`WAITING_BLOCKING_DISSEMINATION`), selected by request
 * id or by URN: they are processed again at once, ignoring blocking disseminations. REGARDS needs an abort (only
 * after an hour) and then a retry; Herald does it in one operator action. Returns the request ids forced.
 *
 * @example
 * await forceDeletions(db, 'project1', { urns: ['URN:FEATURE:DATA:project1:…:V1'] }) // { forced: ['req-42'] }
 */
export async function forceDeletions(db: Db, tenant: string, select: { requestIds?: string[]; urns?: string[] }): Promise<{ forced: string[] }> {
  const requestIds = select.requestIds ?? []
  const urns = select.urns ?? []
  if (requestIds.length === 0 && urns.length === 0) return { forced: [] }
  const { rows } = await sql<{ request_id: string }>`update catalog_request
    set force_deletion = true, step = 'LOCAL_DELAYED', state = 'GRANTED', errors = null, last_update = now()
    where tenant = ${tenant} and type = 'DELETION' and step = 'WAITING_BLOCKING_DISSEMINATION'
      and (request_id = any(${requestIds}::text[]) or urn = any(${urns}::text[]))
    returning request_id`.execute(db)
  return { forced: rows.map((r) => r.request_id) }
}
