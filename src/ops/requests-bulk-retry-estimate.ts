import { estimateRetry, type RetryEstimate } from '../notifier/retry-jobs.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'
import { checkRequestFilter, type RequestFilterInput } from './request-filter-input.ts'

/**
 * How many requests a bulk retry of this filter would retry now: exact when counting takes under a second,
 * else the planner's estimate (`exact: false`).
 */
export async function requestsBulkRetryEstimate(deps: OpsDeps, principal: Principal, input: { filter: RequestFilterInput }): Promise<RetryEstimate> {
  authorize(principal, 'read')
  return estimateRetry(deps.db, principal.tenant, checkRequestFilter(input.filter))
}
