import { ERR_NOT_FOUND } from '../errors.ts'
import { cancelRetryJob, type RetryJob } from '../notifier/retry-jobs.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'
import { bulkRetryTarget, describeCounts, describeFilter } from './requests-bulk-retry.ts'

/**
 * Cancels a running bulk retry: once answered, no further request is retried and the counts are final
 * (what was retried stays retried). A job already over is answered as it is. The audit entry of a
 * cancelled job is this one, naming who started it and what it retried.
 */
export function requestsBulkRetryCancel(deps: OpsDeps, principal: Principal, input: { id: number }): Promise<RetryJob> {
  let detail: string | undefined
  return audited(
    deps,
    principal,
    { action: 'requests.bulk-retry.cancel', target: bulkRetryTarget(input.id), access: 'retry' },
    async () => {
      const result = await cancelRetryJob(deps.db, principal.tenant, input.id, principal.subject)
      if (!result) throw ERR_NOT_FOUND(`no bulk retry ${input.id} in tenant ${principal.tenant}`)
      const { job } = result
      const started = `started by ${job.subject ?? 'an unnamed subject'} (${job.role}) on ${describeFilter(job.filter)}`
      detail = result.cancelled ? `${started}: cancelled with ${describeCounts(job)}` : `${started}: already ${job.state}`
      return job
    },
    () => detail,
  )
}
