import { sql } from 'kysely'
import { insertOutbox } from '../amqp/outbox-relay.ts'
import type { Db } from '../db/client.ts'
import { ERR_NOT_FOUND, ERR_RECIPIENT_BUSY } from '../errors.ts'
import { bumpConfigVersion } from './config-import.ts'
import { completeRequests } from './complete-requests.ts'
import type { TenantConfig } from './tenant-config.ts'

/**
 * Deletes a recipient. While it has deliveries waiting or in progress the delete is refused (409) unless
 * `force`: then those deliveries are dropped with it, and the requests left with nothing to deliver are
 * completed at once (their completion events go to the outbox). Returns how many deliveries were dropped.
 */
export async function deleteRecipient(db: Db, tenant: string, businessId: string, force: boolean, configFor: (tenant: string) => Promise<TenantConfig>): Promise<{ dropped: number; completed: number }> {
  // Read before the transaction: on PGlite (one connection) a read outside it would wait for it forever.
  const config = await configFor(tenant)
  return db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ id: number }>`select id from plugin_configuration
      where tenant = ${tenant} and business_id = ${businessId} and kind = 'RECIPIENT' for update`.execute(tx)
    if (rows.length === 0) throw ERR_NOT_FOUND(`no recipient ${businessId}`)
    const recipientId = rows[0].id
    // Requests first, in id order, as the delivery worker locks them: no deadlock with a worker finishing a batch.
    const { rows: requests } = await sql<{ id: number }>`select id from notification_request
      where id in (select request_pk from delivery where recipient_id = ${recipientId}) order by id for update`.execute(tx)
    const { rows: busy } = await sql<{ n: number }>`select count(*)::int as n from delivery
      where recipient_id = ${recipientId} and state in ('PENDING', 'SENDING')`.execute(tx)
    const dropped = Number(busy[0].n)
    if (dropped > 0 && !force) {
      throw ERR_RECIPIENT_BUSY(`recipient ${businessId} has ${dropped} deliveries waiting or in progress: deactivate it and let them drain, or delete with ?force=true to drop them`, { deliveries: dropped })
    }
    await sql`delete from plugin_configuration where id = ${recipientId}`.execute(tx)
    const completion = await completeRequests(tx, requests.map((r) => r.id), config)
    await insertOutbox(tx, completion.events)
    await bumpConfigVersion(tx, tenant)
    return { dropped, completed: completion.events.length }
  })
}
