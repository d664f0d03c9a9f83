import { catalogued } from '../errors.ts'
import { createRetryJob, type RetryJob } from '../notifier/retry-jobs.ts'
import { recordAudit } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'
import { checkRequestFilter, type RequestFilterInput } from './request-filter-input.ts'

export const BULK_RETRY_ACTION = 'requests.bulk-retry'
export const bulkRetryTarget = (jobId: number) => `retry-jobs/${jobId}`

/**
 * Starts a bulk retry of everything the requests listing's filter selects (what has something to retry:
 * a delivery in ERROR, or RULE_ERROR), as a job a runner of any instance takes within a second
 * (src/notifier/retry-jobs.ts). A refusal is recorded in the audit trail at once; an accepted job once,
 * when it ends (`bulkRetryEnded`), with what it retried.
 */
export async function requestsBulkRetry(deps: OpsDeps, principal: Principal, input: { filter: RequestFilterInput }): Promise<RetryJob> {
  try {
    authorize(principal, 'retry')
    return await createRetryJob(deps.db, principal.tenant, checkRequestFilter(input.filter), { subject: principal.subject, role: principal.role })
  } catch (err) {
    const refusal = catalogued(err)
    await recordAudit(deps.db, principal, { action: BULK_RETRY_ACTION, target: describeFilter(input.filter) }, refusal?.code ?? 'HERALD_ERR_INTERNAL', (err as Error).message).catch(
      (auditErr: unknown) => deps.log.error({ err: auditErr, action: BULK_RETRY_ACTION }, 'could not record an audit entry'),
    )
    throw err
  }
}

/** The audit entry of a job that ended done or failed, in the name of who started it (a cancelled job's is the cancellation's). */
export async function bulkRetryEnded(deps: Pick<OpsDeps, 'db' | 'log'>, job: RetryJob): Promise<void> {
  const principal = { tenant: job.tenant, role: job.role as Principal['role'], subject: job.subject ?? undefined }
  const outcome = job.state === 'failed' ? 'HERALD_ERR_INTERNAL' : 'ok'
  const detail = `${describeFilter(job.filter)}: ${describeCounts(job)}${job.error && job.state === 'failed' ? `; ${job.error}` : ''}`
  await recordAudit(deps.db, principal, { action: BULK_RETRY_ACTION, target: bulkRetryTarget(job.id) }, outcome, detail)
}

/** `state=ERROR recipient=mission-b`, or `every request`. */
export function describeFilter(filter: RequestFilterInput): string {
  const parts = Object.entries(filter)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v).slice(0, 100)}`)
  return parts.length === 0 ? 'every request' : parts.join(' ')
}

export function describeCounts(job: RetryJob): string {
  return `${job.requests} requests retried (${job.deliveries} deliveries, ${job.rematched} rematched) of ${job.estimateExact ? '' : 'about '}${job.estimate} counted at the start`
}
