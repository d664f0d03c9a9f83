import { ERR_NOT_FOUND } from '../errors.ts'
import { getRetryJob, type RetryJob } from '../notifier/retry-jobs.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

/** One bulk retry of the tenant, with its progress. */
export async function requestsBulkRetryShow(deps: OpsDeps, principal: Principal, input: { id: number }): Promise<RetryJob> {
  authorize(principal, 'read')
  const job = await getRetryJob(deps.db, principal.tenant, input.id)
  if (!job) throw ERR_NOT_FOUND(`no bulk retry ${input.id} in tenant ${principal.tenant}`)
  return job
}
