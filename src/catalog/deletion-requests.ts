import { femAnswer, parsePriority, readFeatureUrn, type FemRequest } from './parse-fem-message.ts'
import type { Candidate, Denial } from './register-requests.ts'

/**
 * `FeatureDeletionRequestEvent` body: `{urn, priority?}` (priority defaults to NORMAL). An unknown
 * URN is not refused: REGARDS answers SUCCESS "Feature already deleted. Skipping silently!" when it is processed.
 */
export function validateDeletion(env: FemRequest): Candidate | Denial {
  const errors: string[] = []
  const urn = readFeatureUrn(env.body.urn, 'urn', true, errors)
  const priority = parsePriority(env.body.priority, 1)
  if ('error' in priority) errors.push(priority.error)
  return femAnswer(env, errors, priority, { type: 'DELETION', step: 'LOCAL_DELAYED', urn })
}

/** Deletions need no catalog check at registration. */
export async function checkDeletions(): Promise<Map<string, string[]>> {
  return new Map()
}
