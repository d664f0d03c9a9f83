import { sql } from 'kysely'
import type { Tx } from '../db/client.ts'
import { FEM_ERRORS } from './feature-request-event.ts'
import { femAnswer, parsePriority, readFeatureUrn, type FemRequest } from './parse-fem-message.ts'
import type { Candidate, Denial } from './register-requests.ts'

/**
 * `FeatureNotificationRequestEvent` body (seed 002): `{urn, priority, recipients?}`. A non-empty
 * `recipients` set is direct mode (notifier plugin business ids). Unlike REGARDS, which drops a message with a
 * missing urn or priority without a word, every invalid body is answered DENIED with its reason.
 */
export function validateNotification(env: FemRequest): Candidate | Denial {
  const { body } = env
  const errors: string[] = []
  const urn = readFeatureUrn(body.urn, 'urn', true, errors)
  const priority = parsePriority(body.priority, undefined)
  if ('error' in priority) errors.push(priority.error)
  let recipients: string[] | undefined
  if (body.recipients !== undefined && body.recipients !== null) {
    if (!Array.isArray(body.recipients) || !body.recipients.every((r) => typeof r === 'string' && r.trim() !== '')) {
      errors.push('recipients must be a list of recipient business ids (non-empty strings)')
    } else if (body.recipients.length > 0) {
      recipients = [...new Set(body.recipients as string[])]
    }
  }
  return femAnswer(env, errors, priority, { type: 'NOTIFICATION', step: 'LOCAL_TO_BE_NOTIFIED', urn, recipients })
}

/** The feature must exist; its current JSON is the snapshot that will be notified (REGARDS `toNotify`). */
export async function checkNotifications(tx: Tx, tenant: string, candidates: Candidate[]): Promise<Map<string, string[]>> {
  const urns = [...new Set(candidates.map((c) => c.urn!))]
  const { rows } = await sql<{ urn: string; content: unknown; session_owner: string | null; session: string | null }>`
    select urn, content, session_owner, session from catalog_product
    where tenant = ${tenant} and kind = 'FEATURE' and urn = any(${urns}::text[])`.execute(tx)
  const products = new Map(rows.map((r) => [r.urn, r]))
  const problems = new Map<string, string[]>()
  for (const c of candidates) {
    const product = products.get(c.urn!)
    if (!product) {
      problems.set(c.requestId, [FEM_ERRORS.featureToNotifyUnknown])
      continue
    }
    c.toNotify = product.content
    c.metadata = { action: 'NOTIFIED', sessionOwner: product.session_owner ?? undefined, session: product.session ?? undefined }
  }
  return problems
}
