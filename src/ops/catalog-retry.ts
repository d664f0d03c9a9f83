import { listRequests } from '../catalog/queries/list-requests.ts'
import { retryRequests } from '../catalog/retry-requests.ts'
import { REQUEST_TYPES, type RequestType } from '../catalog/types.ts'
import { ERR_CATALOG_REQUEST_STATE, ERR_NOT_FOUND, ERR_VALIDATION } from '../errors.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

export interface CatalogRetryInput {
  /** These requests; absent (and no `requestId`): every request in error of the tenant. */
  requestIds?: string[]
  /** One request: refused when the tenant has no such request (not found) or when it is not in error (conflict). */
  requestId?: string
  /** Only the requests of this type. */
  type?: RequestType
}

/**
 * Retries catalog requests in error: a notification error is sent to the notifier again, a local error is
 * processed again (src/catalog/retry-requests.ts). The catalog workers of every instance are woken at once.
 */
export function catalogRetry(deps: OpsDeps, principal: Principal, input: CatalogRetryInput): Promise<{ retried: string[] }> {
  const ids = input.requestId !== undefined ? [input.requestId] : input.requestIds
  const target = `${ids ? ids.join(',').slice(0, 500) : '*'}${input.type !== undefined ? ` type=${input.type}` : ''}`
  return audited(
    deps,
    principal,
    { action: 'catalog.retry', target, access: 'retry' },
    async () => {
      if (input.requestId !== undefined && input.requestIds !== undefined) throw ERR_VALIDATION('give either one request id or a list of them')
      if (input.type !== undefined && !REQUEST_TYPES.includes(input.type)) throw ERR_VALIDATION(`type must be one of ${REQUEST_TYPES.join(', ')}`)
      const outcome = await retryRequests(deps.db, principal.tenant, { requestIds: ids, type: input.type })
      if (outcome.retried.length > 0) deps.signals.catalog()
      else if (input.requestId !== undefined) await refuseRetry(deps, principal.tenant, input.requestId)
      return outcome
    },
    (outcome) => `${outcome.retried.length} requests retried`,
  )
}

/** Why one request was not retried: unknown to the tenant, or not in error. */
async function refuseRetry(deps: OpsDeps, tenant: string, requestId: string): Promise<never> {
  const live = (await listRequests(deps.db, tenant, { requestId, limit: 1 })).items[0]
  const done = live ? undefined : (await listRequests(deps.db, tenant, { requestId, state: 'SUCCESS', limit: 1 })).items[0]
  const request = live ?? done
  if (!request) throw ERR_NOT_FOUND(`no catalog request ${requestId} in tenant ${tenant}`)
  throw ERR_CATALOG_REQUEST_STATE(`catalog request ${requestId} is ${request.state}${request.step ? ` (${request.step})` : ''}: only requests in error are retried`)
}
