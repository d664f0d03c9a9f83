import { parsePriority, type FemEnvelope } from './parse-fem-message.ts'
import type { Candidate, Denial } from './register-requests.ts'
import { formatUrn, parseFeatureUrn } from './urn.ts'

type Envelope = Extract<FemEnvelope, { kind: 'request' }>

/**
 * `FeatureDeletionRequestEvent` body: `{urn, priority?}` (priority defaults to NORMAL). An unknown
 * URN is not refused: REGARDS answers SUCCESS "Feature already deleted. Skipping silently!" when it is processed.
 */
export function validateDeletion(env: Envelope): Candidate | Denial {
  const { urn: rawUrn } = env.body
  const errors: string[] = []
  let urn: string | undefined
  if (rawUrn === undefined || rawUrn === null) errors.push('urn is mandatory')
  else {
    const parsed = parseFeatureUrn(rawUrn)
    if (parsed.ok) urn = formatUrn(parsed.urn)
    else errors.push(`invalid urn: ${parsed.error}`)
  }
  const priority = parsePriority(env.body.priority, 1)
  if ('error' in priority) errors.push(priority.error)
  if (errors.length > 0) return { denied: true, requestId: env.requestId, requestOwner: env.requestOwner, urn, errors }
  return {
    requestId: env.requestId,
    requestOwner: env.requestOwner,
    requestDate: env.requestDate,
    redelivered: env.redelivered,
    type: 'DELETION',
    priority: (priority as { priority: number }).priority,
    step: 'LOCAL_DELAYED',
    urn,
  }
}

/** Deletions need no catalog check at registration. */
export async function checkDeletions(): Promise<Map<string, string[]>> {
  return new Map()
}
