import { ERR_VALIDATION } from '../errors.ts'
import { completenessCounts, dayStart, type AckTarget, type CompletenessCount } from '../notifier/completeness.ts'
import { listRecipients, recipientInfo } from '../notifier/recipient-listing.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

export const COMPLETENESS_DAYS = { default: 7, max: 31 }

export interface CompletenessInput {
  /** UTC days, today included (default 7, at most 31). */
  days?: number
}

export interface CompletenessRow extends AckTarget {
  /** One per day of `days`, same order; `acknowledged` is null when the recipient requires no acknowledgement. */
  cells: (Omit<CompletenessCount, 'acknowledged'> & { day: string; acknowledged: number | null })[]
}

export interface Completeness {
  /** UTC days, `YYYY-MM-DD`, oldest first, today last. */
  days: string[]
  recipients: CompletenessRow[]
}

/** The UTC days ending today, oldest first. */
export function lastDays(count: number, now = new Date()): string[] {
  const today = dayStart(now.toISOString().slice(0, 10)).getTime()
  return Array.from({ length: count }, (_, i) => new Date(today - (count - 1 - i) * 86_400_000).toISOString().slice(0, 10))
}

/** The tenant's recipients, each with the label the catalog records its acknowledgements under. */
export async function ackTargets(deps: OpsDeps, tenant: string): Promise<AckTarget[]> {
  const rows = await listRecipients(deps.db, tenant, {})
  return rows.map((row) => {
    const info = recipientInfo(row)
    return { businessId: row.business_id, label: info.recipientLabel ?? null, ackRequired: info.ackRequired }
  })
}

/** Per recipient × UTC day, the deliveries of the requests received that day: matched, delivered, acknowledged. */
export async function completenessShow(deps: OpsDeps, principal: Principal, input: CompletenessInput): Promise<Completeness> {
  authorize(principal, 'read')
  const count = input.days ?? COMPLETENESS_DAYS.default
  if (!Number.isInteger(count) || count < 1 || count > COMPLETENESS_DAYS.max) throw ERR_VALIDATION(`days must be a whole number from 1 to ${COMPLETENESS_DAYS.max}`)
  const days = lastDays(count)
  const targets = await ackTargets(deps, principal.tenant)
  const from = dayStart(days[0])
  const counts = await completenessCounts(deps.db, principal.tenant, targets, from, new Date(dayStart(days[days.length - 1]).getTime() + 86_400_000))
  return {
    days,
    recipients: targets.map((target) => ({
      ...target,
      cells: days.map((day) => {
        const c = counts.get(target.businessId)?.get(day) ?? { matched: 0, delivered: 0, acknowledged: 0 }
        return { day, matched: c.matched, delivered: c.delivered, acknowledged: target.ackRequired ? c.acknowledged : null }
      }),
    })),
  }
}
