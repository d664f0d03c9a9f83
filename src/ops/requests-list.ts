import { listRequests, REQUEST_STATES, type RequestFilter, type RequestSummary } from '../notifier/request-listing.ts'
import { ERR_VALIDATION } from '../errors.ts'
import type { OpsDeps } from './deps.ts'
import { checkRequestFilter } from './request-filter-input.ts'
import { decodeCursor, pageLimit, toPage, type Page, type PageInput } from './page.ts'
import { authorize, type Principal } from './principal.ts'

export type RequestsListInput = RequestFilter & PageInput

/** The tenant's notification requests, live and completed, newest first. */
export async function requestsList(deps: OpsDeps, principal: Principal, input: RequestsListInput): Promise<Page<Omit<RequestSummary, 'id'>>> {
  authorize(principal, 'read')
  const limit = pageLimit(input)
  if (input.state !== undefined && !REQUEST_STATES.includes(input.state)) throw ERR_VALIDATION(`state must be one of ${REQUEST_STATES.join(', ')}`)
  checkRequestFilter({ field: input.field, value: input.value })
  const before = decodeCursor(input.cursor, ['number'])
  const { cursor: _cursor, limit: _limit, ...filter } = input
  const rows = await listRequests(deps.db, principal.tenant, filter, limit, before?.[0])
  return toPage(rows, limit, (r) => [r.id], ({ id: _id, ...summary }) => summary)
}
