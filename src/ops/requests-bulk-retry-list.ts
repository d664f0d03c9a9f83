import { ERR_VALIDATION } from '../errors.ts'
import { listRetryJobs, type RetryJob, type RetryJobState } from '../notifier/retry-jobs.ts'
import type { OpsDeps } from './deps.ts'
import { decodeCursor, pageLimit, toPage, type Page, type PageInput } from './page.ts'
import { authorize, type Principal } from './principal.ts'

const STATES: readonly RetryJobState[] = ['running', 'done', 'cancelled', 'failed']

/** The tenant's bulk retries, newest first. */
export async function requestsBulkRetryList(deps: OpsDeps, principal: Principal, input: { state?: string } & PageInput): Promise<Page<RetryJob>> {
  authorize(principal, 'read')
  const limit = pageLimit(input)
  if (input.state !== undefined && !STATES.includes(input.state as RetryJobState)) throw ERR_VALIDATION(`state must be one of ${STATES.join(', ')}`)
  const before = decodeCursor(input.cursor, ['number'])
  const rows = await listRetryJobs(deps.db, principal.tenant, { state: input.state as RetryJobState | undefined }, limit, before?.[0])
  return toPage(rows, limit, (j) => [j.id], (j) => j)
}
