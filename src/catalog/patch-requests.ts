import { sql } from 'kysely'
import { headerString } from '../amqp/envelope.ts'
import type { Tx } from '../db/client.ts'
import { FEM_ERRORS } from './feature-request-event.ts'
import { featureProblems } from './creation-requests.ts'
import { femAnswer, isObject, parsePriority, readFeatureUrn, type FemRequest } from './parse-fem-message.ts'
import type { Candidate, Denial } from './register-requests.ts'
import { HEADER_FILE_UPDATE_MODE } from './topology.ts'

/** What a patch request stores until it is processed. */
export interface PatchBody {
  patch: Record<string, unknown>
  /** `metadata.acknowledgedRecipient`: the patch acknowledges this recipient label. */
  acknowledgedRecipient?: string
}

/**
 * `FeatureUpdateRequestEvent` body: `{metadata: {priority?, storages?, acknowledgedRecipient?},
 * feature: {urn, …changed fields}}`. Only the changed properties are sent; a null property value unsets it.
 */
export function validatePatch(env: FemRequest): Candidate | Denial {
  const { metadata, feature } = env.body
  const errors: string[] = []
  let urn: string | undefined
  if (metadata !== undefined && metadata !== null && !isObject(metadata)) errors.push('metadata must be a JSON object')
  const meta = isObject(metadata) ? metadata : {}
  const priority = parsePriority(meta.priority, 1)
  if ('error' in priority) errors.push(`metadata.${priority.error}`)
  const ack = meta.acknowledgedRecipient
  if (ack !== undefined && ack !== null && (typeof ack !== 'string' || ack.trim() === '' || ack.length > 128)) {
    errors.push('metadata.acknowledgedRecipient must be a recipient label of 1 to 128 characters')
  }
  const mode = headerString(env.headers, HEADER_FILE_UPDATE_MODE)
  if (mode !== undefined && mode !== 'REPLACE' && mode !== 'APPEND') errors.push(`header ${HEADER_FILE_UPDATE_MODE} must be REPLACE or APPEND`)
  if (!isObject(feature)) errors.push('feature is mandatory: {urn, …changed fields}')
  else {
    errors.push(...featureProblems(feature, true))
    urn = readFeatureUrn(feature.urn, 'feature.urn', true, errors)
  }
  const providerId = isObject(feature) && typeof feature.id === 'string' ? feature.id : undefined
  const body: PatchBody = { patch: feature as Record<string, unknown>, acknowledgedRecipient: typeof ack === 'string' ? ack : undefined }
  return femAnswer(env, errors, priority, { type: 'PATCH', step: 'LOCAL_DELAYED', urn, providerId, body })
}

/** The feature must exist, or be the URN of a creation still in progress. */
export async function checkPatches(tx: Tx, tenant: string, candidates: Candidate[]): Promise<Map<string, string[]>> {
  const urns = [...new Set(candidates.map((c) => c.urn!))]
  const { rows } = await sql<{ urn: string }>`
    select urn from catalog_product where tenant = ${tenant} and kind = 'FEATURE' and urn = any(${urns}::text[])
    union
    select urn from catalog_request where tenant = ${tenant} and type = 'CREATION' and urn = any(${urns}::text[])`.execute(tx)
  const known = new Set(rows.map((r) => r.urn))
  const problems = new Map<string, string[]>()
  for (const c of candidates) if (!known.has(c.urn!)) problems.set(c.requestId, [FEM_ERRORS.featureUnknown])
  return problems
}

/**
 * Applies a patch to a feature: top-level fields are replaced, `properties` are merged recursively, and a null
 * value removes the property (FEM `IFeatureService.mergeFeature`). `urn`, `id` and `type` never change.
 */
export function mergeFeature(feature: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...feature }
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'urn' || key === 'id' || key === 'type') continue
    if (key === 'properties' && isObject(value)) merged.properties = mergeProperties(isObject(feature.properties) ? feature.properties : {}, value)
    else if (value === null) delete merged[key]
    else merged[key] = value
  }
  return merged
}

function mergeProperties(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...current }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else if (isObject(value) && isObject(current[key])) out[key] = mergeProperties(current[key] as Record<string, unknown>, value)
    else out[key] = value
  }
  return out
}
