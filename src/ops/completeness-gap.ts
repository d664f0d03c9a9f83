import { ERR_NOT_FOUND, ERR_VALIDATION } from '../errors.ts'
import { completenessGap, dayStart, type AckTarget, type GapItem } from '../notifier/completeness.ts'
import { ackTargets } from './completeness.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

/** At most this many products in one gap (a day of a stalled recipient can hold far more): `more` says so. */
export const GAP_LIMIT = 1000

export interface CompletenessGapInput {
  recipient: string
  /** A UTC day, `YYYY-MM-DD`. */
  day: string
}

export interface CompletenessGap {
  recipient: AckTarget
  day: string
  items: GapItem[]
  /** More products are missing than `items` lists. */
  more: boolean
  /** The requests whose delivery to this recipient failed and can be retried (requests.retry with `requestIds` and `recipient`). */
  retryable: string[]
}

/**
 * What one cell of the completeness matrix misses: the products matched for the recipient that day but
 * not delivered, or delivered but not acknowledged when it requires an acknowledgement.
 */
export async function completenessGapShow(deps: OpsDeps, principal: Principal, input: CompletenessGapInput): Promise<CompletenessGap> {
  authorize(principal, 'read')
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input.day) || Number.isNaN(dayStart(input.day).getTime()) || dayStart(input.day).toISOString().slice(0, 10) !== input.day) {
    throw ERR_VALIDATION(`day must be a UTC date YYYY-MM-DD, got ${JSON.stringify(input.day)}`)
  }
  const recipient = (await ackTargets(deps, principal.tenant)).find((t) => t.businessId === input.recipient)
  if (!recipient) throw ERR_NOT_FOUND(`no recipient ${input.recipient} in tenant ${principal.tenant}`)
  const rows = await completenessGap(deps.db, principal.tenant, recipient, input.day, GAP_LIMIT)
  const items = rows.slice(0, GAP_LIMIT)
  return {
    recipient,
    day: input.day,
    items,
    more: rows.length > GAP_LIMIT,
    retryable: [...new Set(items.filter((i) => i.live && i.state === 'ERROR').map((i) => i.requestId))],
  }
}
