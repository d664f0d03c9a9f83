import { ERR_NOT_FOUND, ERR_VALIDATION } from '../errors.ts'
import { getRequest } from '../notifier/request-listing.ts'
import { retryRequests, type RetryOutcome } from '../notifier/retry-requests.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

export interface RequestsRetryInput {
  /** Every failure of the tenant; else exactly one of `requestIds` (a bulk retry) and `requestId`. */
  all?: boolean
  requestIds?: string[]
  /** One request: refused HERALD_ERR_NOT_FOUND when the tenant has no such request. */
  requestId?: string
  /** Only the deliveries to this recipient. */
  recipient?: string
  onProgress?: (outcome: RetryOutcome) => void
}

/**
 * Manual retry: deliveries in ERROR back to PENDING, RULE_ERROR requests back to matching, each retried
 * request answered GRANTED. The delivery workers and outbox relays of every instance are woken at once.
 */
export function requestsRetry(deps: OpsDeps, principal: Principal, input: RequestsRetryInput): Promise<RetryOutcome> {
  const given = [input.all === true, input.requestIds !== undefined, input.requestId !== undefined].filter(Boolean).length
  const ids = input.requestId !== undefined ? [input.requestId] : input.requestIds
  const target = `${input.all ? '*' : (ids ?? []).join(',').slice(0, 500)}${input.recipient !== undefined ? ` recipient=${input.recipient}` : ''}`
  return audited(deps, principal, { action: 'requests.retry', target, access: 'retry' }, async () => {
    if (given !== 1) throw ERR_VALIDATION('give either "all": true or request ids')
    const outcome = await retryRequests(deps.db, principal.tenant, { requestIds: input.all ? undefined : ids, recipient: input.recipient }, input.onProgress)
    if (outcome.requests > 0) {
      deps.signals.deliveries()
      deps.signals.outbox()
    } else if (input.requestId !== undefined && !(await getRequest(deps.db, principal.tenant, input.requestId))) {
      throw ERR_NOT_FOUND(`no request ${input.requestId} in tenant ${principal.tenant}`)
    }
    return outcome
  })
}
