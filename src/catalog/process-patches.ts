import { sql } from 'kysely'
import type { Tx } from '../db/client.ts'
import { FEM_ERRORS, featureRequestEvent } from './feature-request-event.ts'
import { emptyProcessed, type Processed, type RequestRow } from './finish-requests.ts'
import { mergeFeature, type PatchBody } from './patch-requests.ts'

/**
 * Applies due patch requests (rs-fem FeatureUpdateService), in request order, with one update for the batch:
 * several patches of one feature in a batch apply one after the other. Answers SUCCESS (or ERROR when the
 * feature is gone) with type PATCH; the whole merged feature is then notified as UPDATED when notifications
 * are active. `metadata.acknowledgedRecipient` acknowledges that label for the feature, like an ack event.
 * Blocking disseminations never block patches (only deletions, as in rs-fem).
 */
export async function processPatches(tx: Tx, tenant: string, requests: RequestRow[], activeNotifications: boolean, now: Date): Promise<Processed> {
  const out = emptyProcessed()
  if (requests.length === 0) return out
  const urns = [...new Set(requests.map((r) => r.urn!))]
  const { rows } = await sql<{ id: number; urn: string; content: Record<string, unknown>; session_owner: string | null; session: string | null }>`
    select id, urn, content, session_owner, session from catalog_product
    where tenant = ${tenant} and kind = 'FEATURE' and urn = any(${urns}::text[]) order by id for update`.execute(tx)
  const products = new Map(rows.map((r) => [r.urn, r]))
  const changed = new Map<number, Record<string, unknown>>()
  for (const request of requests) {
    const owner = request.request_owner ?? undefined
    const body = request.body as PatchBody
    const product = products.get(request.urn!)
    if (!product) {
      out.failed.push({ id: request.id, errors: [FEM_ERRORS.featureUnknown] })
      out.events.push(featureRequestEvent({ tenant, type: 'PATCH', requestId: request.request_id, requestOwner: owner, urn: request.urn!, state: 'ERROR', errors: [FEM_ERRORS.featureUnknown] }))
      continue
    }
    const content = mergeFeature(product.content, body.patch)
    content.history = { ...(product.content.history as object), updatedBy: owner }
    product.content = content
    changed.set(product.id, content)
    if (body.acknowledgedRecipient) out.acks.push({ kind: 'ACK', urn: product.urn, label: body.acknowledgedRecipient, date: now })
    out.events.push(
      featureRequestEvent({ tenant, type: 'PATCH', requestId: request.request_id, requestOwner: owner, id: product.content.id as string, urn: product.urn, state: 'SUCCESS' }),
    )
    if (activeNotifications) {
      out.notify.push({ id: request.id, urn: product.urn, toNotify: content, metadata: { action: 'UPDATED', sessionOwner: product.session_owner ?? undefined, session: product.session ?? undefined } })
    } else out.done.push(request.id)
  }
  if (changed.size > 0) {
    const updates = [...changed].map(([id, content]) => ({ id, content }))
    await sql`update catalog_product p set content = t.content, last_update = now()
      from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as t(id bigint, content jsonb) where p.id = t.id`.execute(tx)
  }
  return out
}
