import { listDeadLetters, type DeadLetter } from '../dead-letters/store.ts'
import type { OpsDeps } from './deps.ts'
import { decodeCursor, pageLimit, toPage, type Page, type PageInput } from './page.ts'
import { authorize, type Principal } from './principal.ts'

export type DeadLetterSummary = Omit<DeadLetter, 'tenant'>

export const withoutTenant = ({ tenant: _tenant, ...message }: DeadLetter): DeadLetterSummary => message

/**
 * The tenant's dead-lettered messages, oldest first. A message without a regards.tenant header belongs to
 * no tenant: no operation reaches it (it stays in the table, and in the herald_dead_letters gauge).
 */
export async function deadLettersList(deps: OpsDeps, principal: Principal, input: PageInput & { queue?: string }): Promise<Page<DeadLetterSummary>> {
  authorize(principal, 'read')
  const limit = pageLimit(input)
  const after = decodeCursor(input.cursor, ['number'])
  const rows = await listDeadLetters(deps.db, { tenant: principal.tenant, queue: input.queue }, limit, after?.[0])
  return toPage(rows, limit, (r) => [r.id], withoutTenant)
}
