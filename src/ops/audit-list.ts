import { ERR_VALIDATION } from '../errors.ts'
import { OPERATOR_ACTIONS } from './actions.ts'
import type { AuditEntry } from '../views.ts'
import { listAuditEntries, type AuditFilter } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import { decodeCursor, pageLimit, toPage, type Page, type PageInput } from './page.ts'
import { authorize, type Principal } from './principal.ts'

/** The actions the trail records: those of src/ops/actions.ts that change something. */
export const AUDITED_ACTIONS = OPERATOR_ACTIONS.filter((a) => a.changes).map((a) => a.name)

/** `ok`, or the catalogue code of a refusal (`HERALD_ERR_NOT_FOUND`). */
export const AUDIT_OUTCOME = /^(ok|HERALD_ERR_[A-Z_]{1,64})$/

export type AuditListInput = AuditFilter & PageInput

export type AuditListItem = Omit<AuditEntry, 'id'>

/**
 * The tenant's audit trail, newest first: who (subject, role) did what (action, target), when, and how it
 * ended, whether asked through REST, the console or the CLI.
 *
 * ADMIN only: the trail is the tenant's record of what its operators did, EXPLOIT operators included, and
 * its details repeat what refused operations were given. Reading it is oversight of the operators, which
 * is the administrator's part in REGARDS, not the day-to-day work (reading requests, retrying) EXPLOIT does.
 */
export async function auditList(deps: OpsDeps, principal: Principal, input: AuditListInput): Promise<Page<AuditListItem>> {
  authorize(principal, 'admin')
  const limit = pageLimit(input)
  const { cursor, limit: _limit, ...filter } = input
  if (filter.action !== undefined && !AUDITED_ACTIONS.includes(filter.action)) throw ERR_VALIDATION(`action must be one of ${AUDITED_ACTIONS.join(', ')}`)
  if (filter.outcome !== undefined && !AUDIT_OUTCOME.test(filter.outcome)) throw ERR_VALIDATION('outcome must be ok or an error code (HERALD_ERR_NOT_FOUND)')
  for (const [name, date] of [['since', filter.since], ['until', filter.until]] as const) {
    if (date !== undefined && Number.isNaN(date.getTime())) throw ERR_VALIDATION(`${name} must be an ISO-8601 date-time`)
  }
  if (filter.since && filter.until && filter.since >= filter.until) throw ERR_VALIDATION('since must be before until')
  const before = decodeCursor(cursor, ['number'])
  const rows = await listAuditEntries(deps.db, principal.tenant, filter, limit, before?.[0])
  return toPage(rows, limit, (r) => [r.id], ({ id: _id, ...entry }) => entry)
}
