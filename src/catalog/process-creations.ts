import { sql } from 'kysely'
import type { Tx } from '../db/client.ts'
import type { CreationBody } from './creation-requests.ts'
import { featureRequestEvent } from './feature-request-event.ts'
import { emptyProcessed, type Processed, type RequestRow } from './finish-requests.ts'
import { mergeFeature } from './patch-requests.ts'
import { featureUrn, parseUrn } from './urn.ts'

interface Latest {
  id: number
  urn: string
  version: number
  content: Record<string, unknown>
  session_owner: string | null
  session: string | null
  /** Set when the latest version is created by this same batch (not stored yet). */
  row?: { last: boolean; content: Record<string, unknown> }
}

/**
 * Creates the features of due creation requests (rs-fem FeatureCreationService), in request order, with one
 * insert for the batch. A feature without a URN gets `URN:FEATURE:DATA:<tenant>:<nameUUID(providerId)>:V<n>`
 * where n follows the provider id's latest version, which stops being `last`. With `updateIfExists`, an
 * existing provider id is patched instead. Answers SUCCESS (or ERROR) with type CREATION; then the feature is
 * notified as CREATED (UPDATED) when notifications are active.
 */
export async function processCreations(tx: Tx, tenant: string, requests: RequestRow[], activeNotifications: boolean): Promise<Processed> {
  const out = emptyProcessed()
  if (requests.length === 0) return out
  const providerIds = [...new Set(requests.map((r) => r.provider_id!))]
  // Lock the provider ids' versions first (DISTINCT ON cannot lock): two instances never number alike.
  await sql`select id from catalog_product where tenant = ${tenant} and kind = 'FEATURE' and provider_id = any(${providerIds}::text[])
    order by id for update`.execute(tx)
  const { rows: latestRows } = await sql<Latest>`
    select distinct on (provider_id) id, urn, version, content, session_owner, session, provider_id
    from catalog_product where tenant = ${tenant} and kind = 'FEATURE' and provider_id = any(${providerIds}::text[])
    order by provider_id, version desc`.execute(tx)
  const latest = new Map(latestRows.map((r) => [(r as Latest & { provider_id: string }).provider_id, r]))
  const providedUrns = requests.filter((r) => r.urn).map((r) => r.urn!)
  const { rows: taken } = await sql<{ urn: string }>`select urn from catalog_product
    where tenant = ${tenant} and urn = any(${providedUrns}::text[])`.execute(tx)
  const takenUrns = new Set(taken.map((r) => r.urn))

  const inserts: { last: boolean; content: Record<string, unknown> }[] = []
  const updates: { id: number; content: Record<string, unknown> }[] = []
  const notLast: number[] = []
  for (const request of requests) {
    const body = request.body as CreationBody
    const owner = request.request_owner ?? undefined
    const providerId = request.provider_id!
    const previous = latest.get(providerId)
    const fail = (error: string) => {
      out.failed.push({ id: request.id, errors: [error] })
      out.events.push(featureRequestEvent({ tenant, type: 'CREATION', requestId: request.request_id, requestOwner: owner, id: providerId, urn: request.urn ?? undefined, state: 'ERROR', errors: [error] }))
    }
    if (body.updateIfExists && previous && (!request.urn || request.urn === previous.urn)) {
      const content = mergeFeature(previous.content, { ...body.feature, properties: body.feature.properties ?? {} })
      content.history = { ...(previous.content.history as object), updatedBy: owner }
      previous.content = content
      if (previous.row) previous.row.content = content
      else updates.push({ id: previous.id, content })
      succeed(request, previous.urn, content, 'UPDATED', previous.session_owner ?? body.sessionOwner, previous.session ?? body.session)
      continue
    }
    let urn = request.urn ?? undefined
    let version: number
    if (urn) {
      version = (parseUrn(urn) as { urn: { version?: number } }).urn.version ?? 1
      if (takenUrns.has(urn)) {
        fail(`feature ${urn} already exists`)
        continue
      }
      if (previous && version <= previous.version) {
        fail(`Version is invalid: ${urn} is not above the latest version V${previous.version} of ${providerId}`)
        continue
      }
    } else {
      version = (previous?.version ?? 0) + 1
      urn = featureUrn(tenant, providerId, version)
      if (takenUrns.has(urn)) {
        fail(`feature ${urn} already exists`)
        continue
      }
    }
    takenUrns.add(urn)
    const content = canonicalFeature(body.feature, providerId, urn, owner)
    if (previous?.row) {
      previous.row.last = false
      previous.row.content = { ...previous.row.content, last: false }
    } else if (previous) notLast.push(previous.id)
    const row = { urn, provider_id: providerId, version, last: true, model: typeof content.model === 'string' ? content.model : null, session_owner: body.sessionOwner, session: body.session, content }
    inserts.push(row)
    latest.set(providerId, { id: -1, urn, version, content, session_owner: body.sessionOwner, session: body.session, row })
    succeed(request, urn, content, 'CREATED', body.sessionOwner, body.session)
  }

  if (notLast.length > 0) {
    await sql`update catalog_product set last = false, content = jsonb_set(content, '{last}', 'false'), last_update = now()
      where id = any(${notLast}::bigint[])`.execute(tx)
  }
  if (inserts.length > 0) {
    await sql`insert into catalog_product (tenant, urn, kind, provider_id, version, last, model, session_owner, session, content)
      select ${tenant}, urn, 'FEATURE', provider_id, version, last, model, session_owner, session, content
      from jsonb_to_recordset(${JSON.stringify(inserts)}::jsonb) as t(urn text, provider_id text, version int, last boolean,
        model text, session_owner text, session text, content jsonb)`.execute(tx)
  }
  if (updates.length > 0) {
    await sql`update catalog_product p set content = t.content, last_update = now()
      from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as t(id bigint, content jsonb) where p.id = t.id`.execute(tx)
  }
  return out

  function succeed(request: RequestRow, urn: string, content: Record<string, unknown>, action: 'CREATED' | 'UPDATED', sessionOwner: string, session: string) {
    out.events.push(
      featureRequestEvent({ tenant, type: 'CREATION', requestId: request.request_id, requestOwner: request.request_owner ?? undefined, id: request.provider_id!, urn, state: 'SUCCESS' }),
    )
    if (activeNotifications) out.notify.push({ id: request.id, urn, toNotify: content, metadata: { action, sessionOwner, session } })
    else out.done.push(request.id)
  }
}

/** The stored GeoJSON: REGARDS' Feature fields first (type, id, urn, entityType, model, last, history), then the rest. */
export function canonicalFeature(feature: Record<string, unknown>, providerId: string, urn: string, owner: string | undefined): Record<string, unknown> {
  const { type: _type, id: _id, urn: _urn, entityType, model, last: _last, history, ...rest } = feature
  return {
    type: 'Feature',
    id: providerId,
    urn,
    entityType: entityType ?? 'DATA',
    model,
    last: true,
    history: { ...(typeof history === 'object' && history !== null ? history : {}), createdBy: owner },
    ...rest,
    properties: rest.properties ?? {},
  }
}
