import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import { formatUrn, parseUrn } from './urn.ts'

export interface DisseminationRequestInput {
  urns: string[]
  /** Notifier recipient business ids (direct mode); empty or absent: the notifier's rules decide. */
  recipients?: string[]
  /** Request owner (the operator). */
  owner?: string
  priority?: 'HIGH' | 'NORMAL' | 'LOW'
}

export interface DisseminationRequestResult {
  urn: string
  requestId?: string
  error?: string
}

/**
 * Asks the notifier to disseminate products (rs-fem `POST /admin/features/notify`, rs-ingest
 * `POST /aips/dissemination`): one request per product, HIGH priority by default, a random request id. A feature
 * is notified as NOTIFIED with its current JSON; an AIP as AIP_DISSEMINATION with its entity. On the notifier's
 * SUCCESS, dissemination infos are recorded as for any notification.
 *
 * @example
 * await requestDissemination(db, 'project1', { urns: [urn], recipients: ['mission-b'], owner: 'admin' })
 */
export async function requestDissemination(db: Db, tenant: string, input: DisseminationRequestInput): Promise<{ results: DisseminationRequestResult[] }> {
  const priority = { HIGH: 2, NORMAL: 1, LOW: 0 }[input.priority ?? 'HIGH']
  const recipients = input.recipients && input.recipients.length > 0 ? [...new Set(input.recipients)] : null
  const canonical = input.urns.map((u) => {
    const parsed = parseUrn(u)
    return parsed.ok ? formatUrn(parsed.urn) : u
  })
  const result = await db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ urn: string; kind: 'FEATURE' | 'AIP'; content: Record<string, unknown>; session_owner: string | null; session: string | null; dissemination_status: string; infos: unknown }>`
      select p.urn, p.kind, p.content, p.session_owner, p.session, p.dissemination_status,
        coalesce((select jsonb_agg(jsonb_build_object('label', d.label, 'date', d.request_date, 'ackDate', d.ack_date))
          from catalog_dissemination d where d.product_id = p.id), '[]'::jsonb) as infos
      from catalog_product p where p.tenant = ${tenant} and p.urn = any(${canonical}::text[])`.execute(tx)
    const products = new Map(rows.map((r) => [r.urn, r]))
    const results: DisseminationRequestResult[] = []
    const inserts: Record<string, unknown>[] = []
    const now = new Date(Date.now() - 1000).toISOString() // rs-fem dates these requests now - 1 s
    for (const urn of canonical) {
      const p = products.get(urn)
      if (!p) {
        results.push({ urn, error: `no product ${urn}` })
        continue
      }
      const requestId = randomUUID()
      const aip = p.kind === 'AIP'
      const toNotify = aip ? { ...p.content, disseminationInfos: p.infos, disseminationStatus: p.dissemination_status } : p.content
      inserts.push({
        request_id: requestId,
        type: aip ? 'AIP_DISSEMINATION' : 'NOTIFICATION',
        urn,
        to_notify: toNotify,
        metadata: { action: aip ? 'AIP_DISSEMINATION' : 'NOTIFIED', sessionOwner: p.session_owner ?? undefined, session: p.session ?? undefined },
      })
      results.push({ urn, requestId })
    }
    if (inserts.length > 0) {
      await sql`insert into catalog_request (tenant, request_id, request_owner, type, state, step, priority, request_date, urn,
          recipients, to_notify, metadata)
        select ${tenant}, request_id, ${input.owner ?? null}, type, 'GRANTED', 'LOCAL_TO_BE_NOTIFIED', ${priority}, ${now}::timestamptz,
          urn, ${recipients === null ? null : JSON.stringify(recipients)}::jsonb, to_notify, metadata
        from jsonb_to_recordset(${JSON.stringify(inserts)}::jsonb) as t(request_id text, type text, urn text, to_notify jsonb, metadata jsonb)`.execute(tx)
    }
    return { results }
  })
  return result
}
