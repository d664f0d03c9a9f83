import { sql } from 'kysely'
import type { Tx } from '../db/client.ts'
import { FEM_ERRORS, featureRequestEvent } from './feature-request-event.ts'
import { emptyProcessed, type Processed, type RequestRow } from './finish-requests.ts'

/**
 * Deletes the features of due deletion requests (rs-fem FeatureDeletionService), in request order, with one
 * delete for the batch. A feature with a blocking dissemination still waiting for its ack is kept and its
 * request waits (`WAITING_BLOCKING_DISSEMINATION`, no response) until the ack arrives or an operator forces it.
 * An unknown URN is answered SUCCESS "Feature already deleted. Skipping silently!" and notified as
 * ALREADY_DELETED with REGARDS' placeholder feature.
 */
export async function processDeletions(tx: Tx, tenant: string, requests: RequestRow[], activeNotifications: boolean): Promise<Processed & { blockedBy: Map<number, string[]> }> {
  const out = { ...emptyProcessed(), blockedBy: new Map<number, string[]>() }
  if (requests.length === 0) return out
  const urns = [...new Set(requests.map((r) => r.urn!))]
  const { rows } = await sql<{ id: number; urn: string; content: Record<string, unknown>; session_owner: string | null; session: string | null; blocking_labels: string[] | null }>`
    select p.id, p.urn, p.content, p.session_owner, p.session,
      (select array_agg(d.label order by d.label) from catalog_dissemination d
        where d.product_id = p.id and d.blocking and d.ack_date is null) as blocking_labels
    from catalog_product p
    where p.tenant = ${tenant} and p.kind = 'FEATURE' and p.urn = any(${urns}::text[]) order by p.id for update`.execute(tx)
  const products = new Map(rows.map((r) => [r.urn, r]))
  const deleted: number[] = []
  for (const request of requests) {
    const owner = request.request_owner ?? undefined
    const product = products.get(request.urn!)
    if (!product) {
      out.events.push(
        featureRequestEvent({ tenant, type: 'DELETION', requestId: request.request_id, requestOwner: owner, urn: request.urn!, state: 'SUCCESS', errors: [FEM_ERRORS.alreadyDeleted] }),
      )
      if (activeNotifications) out.notify.push({ id: request.id, urn: request.urn!, toNotify: unknownFeature(request.urn!), metadata: { action: 'ALREADY_DELETED' } })
      else out.done.push(request.id)
      continue
    }
    if (product.blocking_labels && product.blocking_labels.length > 0 && !request.force_deletion) {
      out.blocked.push(request.id)
      out.blockedBy.set(request.id, product.blocking_labels)
      continue
    }
    products.delete(request.urn!)
    deleted.push(product.id)
    out.events.push(
      featureRequestEvent({ tenant, type: 'DELETION', requestId: request.request_id, requestOwner: owner, id: product.content.id as string, urn: product.urn, state: 'SUCCESS' }),
    )
    if (activeNotifications) {
      out.notify.push({ id: request.id, urn: product.urn, toNotify: product.content, metadata: { action: 'DELETED', sessionOwner: product.session_owner ?? undefined, session: product.session ?? undefined } })
    } else out.done.push(request.id)
  }
  if (deleted.length > 0) await sql`delete from catalog_product where id = any(${deleted}::bigint[])`.execute(tx)
  return out
}

/** The placeholder REGARDS notifies for a deletion of a URN that does not exist. */
export function unknownFeature(urn: string): Record<string, unknown> {
  return {
    type: 'Feature',
    id: 'unknown',
    urn,
    entityType: 'DATA',
    model: 'unknown',
    history: { createdBy: 'unknown' },
    properties: {},
  }
}
