import { sql } from 'kysely'
import type { Db } from '../db/client.ts'

/** Deletes a request: the live one with its deliveries and attempts, and its completed copies. */
export async function deleteRequest(db: Db, tenant: string, requestId: string): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const live = await sql`delete from notification_request where tenant = ${tenant} and request_id = ${requestId}`.execute(tx)
    const history = await sql`delete from request_history where tenant = ${tenant} and request_id = ${requestId}`.execute(tx)
    return Number(live.numAffectedRows ?? 0) + Number(history.numAffectedRows ?? 0)
  })
}
