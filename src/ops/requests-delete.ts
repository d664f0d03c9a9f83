import { ERR_NOT_FOUND } from '../errors.ts'
import { deleteRequest } from '../notifier/delete-request.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

/** Deletes a request: the live one with its deliveries and attempts, and its completed copies. */
export function requestsDelete(deps: OpsDeps, principal: Principal, input: { requestId: string }): Promise<{ requestId: string; deleted: number }> {
  return audited(deps, principal, { action: 'requests.delete', target: input.requestId, access: 'admin' }, async () => {
    const deleted = await deleteRequest(deps.db, principal.tenant, input.requestId)
    if (deleted === 0) throw ERR_NOT_FOUND(`no request ${input.requestId} in tenant ${principal.tenant}`)
    return { requestId: input.requestId, deleted }
  })
}
