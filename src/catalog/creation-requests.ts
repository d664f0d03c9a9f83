import { sql } from 'kysely'
import type { Tx } from '../db/client.ts'
import { femAnswer, isObject, parsePriority, readFeatureUrn, type FemRequest } from './parse-fem-message.ts'
import type { Candidate, Denial } from './register-requests.ts'
import { parseUrn } from './urn.ts'

/** What a creation request stores until it is processed. */
export interface CreationBody {
  feature: Record<string, unknown>
  sessionOwner: string
  session: string
  updateIfExists: boolean
  override: boolean
}

const SESSION_MAX = 128
const PROVIDER_ID_MAX = 255

/**
 * `FeatureCreationRequestEvent` body: `{metadata: {sessionOwner, session, storages?, priority?,
 * override?, updateIfExists?}, feature: <GeoJSON Feature>}`. The feature needs its provider id (`id`); its `urn`
 * is optional (generated from the provider id when absent, REGARDS' §6.4 workflow provides the origin's URN).
 */
export function validateCreation(env: FemRequest): Candidate | Denial {
  const { metadata, feature } = env.body
  const errors: string[] = []
  let urn: string | undefined
  let providerId: string | undefined
  const meta = isObject(metadata) ? metadata : undefined
  if (!meta) errors.push('metadata is mandatory: {sessionOwner, session, …}')
  const sessionOwner = meta?.sessionOwner
  const session = meta?.session
  if (typeof sessionOwner !== 'string' || sessionOwner.trim() === '') errors.push('metadata.sessionOwner is mandatory')
  else if (sessionOwner.length > SESSION_MAX) errors.push(`metadata.sessionOwner is longer than ${SESSION_MAX} characters`)
  if (typeof session !== 'string' || session.trim() === '') errors.push('metadata.session is mandatory')
  else if (session.length > SESSION_MAX) errors.push(`metadata.session is longer than ${SESSION_MAX} characters`)
  const priority = parsePriority(meta?.priority, 1)
  if ('error' in priority) errors.push(`metadata.${priority.error}`)
  if (!isObject(feature)) errors.push('feature is mandatory: a GeoJSON Feature object')
  else {
    errors.push(...featureProblems(feature))
    if (typeof feature.id === 'string' && feature.id.trim() !== '') providerId = feature.id
    urn = readFeatureUrn(feature.urn, 'feature.urn', false, errors)
  }
  const body: CreationBody = {
    feature: feature as Record<string, unknown>,
    sessionOwner: sessionOwner as string,
    session: session as string,
    updateIfExists: meta?.updateIfExists === true,
    override: meta?.override === true,
  }
  return femAnswer(env, errors, priority, { type: 'CREATION', step: 'LOCAL_DELAYED', urn, providerId, body })
}

/** GeoJSON Feature checks shared by creations and patches. */
export function featureProblems(feature: Record<string, unknown>, patch = false): string[] {
  const errors: string[] = []
  if (feature.type !== undefined && feature.type !== 'Feature') errors.push('feature.type must be "Feature"')
  if (!patch) {
    if (typeof feature.id !== 'string' || feature.id.trim() === '') errors.push('feature.id (the provider id) is mandatory')
    else if (feature.id.length > PROVIDER_ID_MAX) errors.push(`feature.id is longer than ${PROVIDER_ID_MAX} characters`)
  }
  if (feature.entityType !== undefined && feature.entityType !== null && feature.entityType !== 'DATA') {
    errors.push('feature.entityType must be DATA')
  }
  if (feature.properties !== undefined && feature.properties !== null && !isObject(feature.properties)) {
    errors.push('feature.properties must be a JSON object')
  }
  if (feature.geometry !== undefined && feature.geometry !== null && !isObject(feature.geometry)) {
    errors.push('feature.geometry must be a GeoJSON geometry object or null')
  }
  return errors
}

/**
 * A provided URN must be new: not an existing feature (unless `updateIfExists`), not in a pending creation,
 * not twice in the batch, and its version above the provider id's latest ("Version is invalid").
 */
export async function checkCreations(tx: Tx, tenant: string, candidates: Candidate[]): Promise<Map<string, string[]>> {
  const problems = new Map<string, string[]>()
  const withUrn = candidates.filter((c) => c.urn !== undefined)
  if (withUrn.length === 0) return problems
  const urns = withUrn.map((c) => c.urn!)
  const providerIds = [...new Set(withUrn.map((c) => c.providerId!))]
  const { rows: existing } = await sql<{ urn: string }>`select urn from catalog_product
    where tenant = ${tenant} and urn = any(${urns}::text[])`.execute(tx)
  const { rows: pending } = await sql<{ urn: string }>`select urn from catalog_request
    where tenant = ${tenant} and type = 'CREATION' and urn = any(${urns}::text[])`.execute(tx)
  const { rows: latest } = await sql<{ provider_id: string; version: number }>`select provider_id, max(version) as version
    from catalog_product where tenant = ${tenant} and kind = 'FEATURE' and provider_id = any(${providerIds}::text[])
    group by provider_id`.execute(tx)
  const existingUrns = new Set(existing.map((r) => r.urn))
  const pendingUrns = new Set(pending.map((r) => r.urn))
  const latestVersion = new Map(latest.map((r) => [r.provider_id, r.version]))
  const inBatch = new Set<string>()
  for (const c of withUrn) {
    const body = c.body as CreationBody
    const urn = c.urn!
    const version = parseUrn(urn).ok ? (parseUrn(urn) as { urn: { version?: number } }).urn.version : undefined
    if (inBatch.has(urn) || pendingUrns.has(urn)) problems.set(c.requestId, [`a creation request for urn ${urn} is already in progress`])
    else if (existingUrns.has(urn) && !body.updateIfExists) problems.set(c.requestId, [`feature ${urn} already exists`])
    else if (!existingUrns.has(urn) && version !== undefined && version <= (latestVersion.get(c.providerId!) ?? 0)) {
      problems.set(c.requestId, [`Version is invalid: ${urn} is not above the latest version V${latestVersion.get(c.providerId!)} of ${c.providerId}`])
    }
    inBatch.add(urn)
  }
  return problems
}
