import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import { aipUrn, formatUrn, parseOaisUrn, parseUrn } from './urn.ts'

/** An AIP record as the catalog keeps it: what dissemination and acknowledgement need, not a whole OAIS archive. */
export interface AipInput {
  providerId: string
  /** `URN:AIP:…`; generated from the provider id when absent (`URN:AIP:DATA:<tenant>:<nameUUID(providerId)>:V<n>`). */
  urn?: string
  /** The product's URN in the catalog it came from (rs-ingest `originUrn`), used by DisseminationAckSender. */
  originUrn?: string
  sessionOwner?: string
  session?: string
  /** The AIP document itself, notified as `aip`. */
  aip?: Record<string, unknown>
}

export interface AipResult {
  providerId: string
  urn?: string
  status: 'CREATED' | 'ERROR'
  error?: string
}

/**
 * Records AIPs (rs-ingest's AIP entity, reduced to what dissemination needs), in one transaction; each input
 * gets its own result, so one bad entry does not stop the others.
 *
 * @example
 * const { results } = await createAips(db, 'project1', [{ providerId: 'S1A_0001', originUrn: 'URN:FEATURE:DATA:…:V1' }])
 * results[0] // { providerId: 'S1A_0001', urn: 'URN:AIP:DATA:project1:…:V1', status: 'CREATED' }
 */
export async function createAips(db: Db, tenant: string, inputs: AipInput[]): Promise<{ results: AipResult[] }> {
  return db.transaction().execute(async (tx) => {
    const results: AipResult[] = []
    const providerIds = [...new Set(inputs.map((i) => i.providerId).filter((p) => typeof p === 'string'))]
    const { rows } = await sql<{ provider_id: string; version: number }>`select provider_id, max(version) as version
      from catalog_product where tenant = ${tenant} and kind = 'AIP' and provider_id = any(${providerIds}::text[])
      group by provider_id`.execute(tx)
    const latest = new Map(rows.map((r) => [r.provider_id, r.version]))
    const inserts: Record<string, unknown>[] = []
    for (const input of inputs) {
      const providerId = input?.providerId
      if (typeof providerId !== 'string' || providerId.trim() === '') {
        results.push({ providerId: String(providerId), status: 'ERROR', error: 'providerId is mandatory' })
        continue
      }
      let urn: string
      let version: number
      if (input.urn !== undefined) {
        const parsed = parseOaisUrn(input.urn)
        if (!parsed.ok || parsed.urn.identifier !== 'AIP') {
          results.push({ providerId, status: 'ERROR', error: parsed.ok ? 'urn must be an AIP URN (URN:AIP:…)' : parsed.error })
          continue
        }
        urn = formatUrn(parsed.urn)
        version = parsed.urn.version ?? 1
      } else {
        version = (latest.get(providerId) ?? 0) + 1
        urn = aipUrn(tenant, providerId, version)
      }
      if (input.originUrn !== undefined && !parseUrn(input.originUrn).ok) {
        results.push({ providerId, urn, status: 'ERROR', error: `originUrn ${input.originUrn} is not a URN` })
        continue
      }
      latest.set(providerId, Math.max(version, latest.get(providerId) ?? 0))
      const content = { aipId: urn, providerId, version, originUrn: input.originUrn, sessionOwner: input.sessionOwner, session: input.session, state: 'STORED', aip: input.aip ?? {} }
      inserts.push({ urn, provider_id: providerId, version, origin_urn: input.originUrn ?? null, session_owner: input.sessionOwner ?? null, session: input.session ?? null, content })
      results.push({ providerId, urn, status: 'CREATED' })
    }
    if (inserts.length > 0) {
      const { rows: inserted } = await sql<{ urn: string }>`
        insert into catalog_product (tenant, urn, kind, provider_id, version, origin_urn, session_owner, session, content)
        select ${tenant}, urn, 'AIP', provider_id, version, origin_urn, session_owner, session, content
        from jsonb_to_recordset(${JSON.stringify(inserts)}::jsonb) as t(urn text, provider_id text, version int,
          origin_urn text, session_owner text, session text, content jsonb)
        on conflict (tenant, urn) do nothing
        returning urn`.execute(tx)
      const created = new Set(inserted.map((r) => r.urn))
      for (const r of results) {
        if (r.status === 'CREATED' && !created.has(r.urn!)) Object.assign(r, { status: 'ERROR', error: `${r.urn} already exists` })
      }
    }
    return { results }
  })
}
