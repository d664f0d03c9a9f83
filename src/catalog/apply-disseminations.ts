import { sql } from 'kysely'
import type { Tx } from '../db/client.ts'

/** One dissemination info as stored (REGARDS FeatureDisseminationInfo). */
export interface InfoState {
  requestDate: Date
  ackDate: Date | null
  blocking: boolean
}

/**
 * A change to a product × label: a PUT (the notifier reported the product sent to that recipient) or an ACK
 * (the recipient acknowledged it).
 */
export type DisseminationChange =
  | { kind: 'PUT'; urn: string; label: string; date: Date; ackRequired: boolean; blocking: boolean }
  | { kind: 'ACK'; urn: string; label: string; date: Date }

export type ChangeOutcome =
  | 'put-new'
  | 'put-renotified'
  /** A PUT not later than the info's date: typically the ack arrived before the notifier's SUCCESS. */
  | 'put-unchanged'
  | 'ack-applied'
  /** An ack for a label with no info: recorded as an acknowledged dissemination (ack before notification too). */
  | 'ack-unknown-label'
  /** An ack for an info already acknowledged. */
  | 'ack-duplicate'
  | 'unknown-urn'

/**
 * The REGARDS rules (FeatureDisseminationInfo.updateRequestDate / updateAckDate), as a pure
 * function: returns the new state (undefined when nothing changes) and what happened.
 *
 * PUT: a new label gets `{requestDate: date, ackDate: ackRequired ? null : date, blocking}`; a later date re-inits
 *   the dates the same way (the `blocking` flag of an existing info is kept); an earlier or equal date changes
 *   nothing, so an ack that arrived first stays.
 * ACK: a new label gets `requestDate = ackDate = date`, not blocking; a pending info gets its ackDate (never before
 *   its requestDate: Herald acknowledges a pending info whatever the clocks say, where REGARDS would drop an ack
 *   stamped before the request date); an acknowledged info has both dates moved to a later ack, so that a
 *   re-notification whose ack overtook its PUT stays acknowledged.
 */
export function applyChange(current: InfoState | undefined, change: DisseminationChange): { next?: InfoState; outcome: ChangeOutcome } {
  const { date } = change
  if (change.kind === 'PUT') {
    const ackDate = change.ackRequired ? null : date
    if (!current) return { next: { requestDate: date, ackDate, blocking: change.blocking }, outcome: 'put-new' }
    if (date > current.requestDate) return { next: { requestDate: date, ackDate, blocking: current.blocking }, outcome: 'put-renotified' }
    return { outcome: 'put-unchanged' }
  }
  if (!current) return { next: { requestDate: date, ackDate: date, blocking: false }, outcome: 'ack-unknown-label' }
  if (current.ackDate === null) {
    return { next: { ...current, ackDate: date > current.requestDate ? date : current.requestDate }, outcome: 'ack-applied' }
  }
  if (date > current.ackDate) return { next: { ...current, requestDate: date, ackDate: date }, outcome: 'ack-duplicate' }
  return { outcome: 'ack-duplicate' }
}

export interface AppliedChanges {
  outcomes: Record<ChangeOutcome, number>
  /** Changes for URNs with no product (ignored, as REGARDS does). */
  unknownUrns: string[]
  /** Product ids whose infos changed (status recomputed). */
  changedProducts: number[]
  /** Deletions waiting on a blocking dissemination that were released to be checked again. */
  released: number
  /** One entry per change, in order: for callers that report per message. */
  perChange: ChangeOutcome[]
}

/**
 * Applies a batch of PUTs and ACKs for one tenant in the caller's transaction, in order, with a handful of
 * statements whatever the batch size: lock the products (id order, so two instances never deadlock), read
 * their infos, apply the rules in memory, upsert the changed infos, recompute the products' status, and send
 * blocked deletions of the products whose blocking infos changed back to be checked.
 */
export async function applyDisseminationChanges(tx: Tx, tenant: string, changes: DisseminationChange[]): Promise<AppliedChanges> {
  const result: AppliedChanges = {
    outcomes: { 'put-new': 0, 'put-renotified': 0, 'put-unchanged': 0, 'ack-applied': 0, 'ack-unknown-label': 0, 'ack-duplicate': 0, 'unknown-urn': 0 },
    unknownUrns: [],
    changedProducts: [],
    released: 0,
    perChange: [],
  }
  if (changes.length === 0) return result
  const urns = [...new Set(changes.map((c) => c.urn))]
  const { rows: products } = await sql<{ id: number; urn: string }>`select id, urn from catalog_product
    where tenant = ${tenant} and urn = any(${urns}::text[]) order by id for update`.execute(tx)
  const productByUrn = new Map(products.map((p) => [p.urn, p.id]))
  const infos = new Map<string, InfoState>()
  if (products.length > 0) {
    const { rows } = await sql<{ product_id: number; label: string; request_date: Date; ack_date: Date | null; blocking: boolean }>`
      select product_id, label, request_date, ack_date, blocking from catalog_dissemination
      where product_id = any(${products.map((p) => p.id)}::bigint[])`.execute(tx)
    for (const r of rows) infos.set(`${r.product_id}\u0000${r.label}`, { requestDate: r.request_date, ackDate: r.ack_date, blocking: r.blocking })
  }

  const changed = new Map<string, { productId: number; label: string; state: InfoState }>()
  const blockingUrns = new Set<string>()
  for (const change of changes) {
    const productId = productByUrn.get(change.urn)
    if (productId === undefined) {
      result.outcomes['unknown-urn']++
      result.unknownUrns.push(change.urn)
      result.perChange.push('unknown-urn')
      continue
    }
    const key = `${productId}\u0000${change.label}`
    const { next, outcome } = applyChange(infos.get(key), change)
    result.outcomes[outcome]++
    result.perChange.push(outcome)
    if (!next) continue
    infos.set(key, next)
    changed.set(key, { productId, label: change.label, state: next })
    if (next.blocking) blockingUrns.add(change.urn)
  }
  if (changed.size === 0) return result

  const rows = [...changed.values()].map(({ productId, label, state }) => ({
    product_id: productId,
    label,
    request_date: state.requestDate.toISOString(),
    ack_date: state.ackDate?.toISOString() ?? null,
    blocking: state.blocking,
  }))
  await sql`insert into catalog_dissemination (product_id, tenant, label, request_date, ack_date, blocking)
    select product_id, ${tenant}, label, request_date, ack_date, blocking
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as t(product_id bigint, label text, request_date timestamptz, ack_date timestamptz, blocking boolean)
    on conflict (product_id, label) do update set request_date = excluded.request_date, ack_date = excluded.ack_date,
      blocking = excluded.blocking`.execute(tx)
  result.changedProducts = [...new Set(rows.map((r) => r.product_id))]
  await recomputeStatus(tx, result.changedProducts)
  if (blockingUrns.size > 0) {
    const released = await sql`update catalog_request set step = 'LOCAL_DELAYED', last_update = now()
      where tenant = ${tenant} and type = 'DELETION' and step = 'WAITING_BLOCKING_DISSEMINATION'
        and urn = any(${[...blockingUrns]}::text[])`.execute(tx)
    result.released = Number(released.numAffectedRows ?? 0)
  }
  return result
}

/** NONE without infos, PENDING while an info waits for its ack, DONE when all are acknowledged. */
export async function recomputeStatus(tx: Tx, productIds: number[]): Promise<void> {
  if (productIds.length === 0) return
  await sql`update catalog_product p set last_update = now(), dissemination_status =
      (select case when count(*) = 0 then 'NONE' when bool_or(d.ack_date is null) then 'PENDING' else 'DONE' end
        from catalog_dissemination d where d.product_id = p.id)
    where p.id = any(${productIds}::bigint[])`.execute(tx)
}
