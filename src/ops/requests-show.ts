import { ERR_NOT_FOUND } from '../errors.ts'
import { getRequest, type RequestDetail } from '../notifier/request-listing.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

/** One request with its deliveries and every failed attempt: the live one, else the latest completed one. */
export async function requestsShow(deps: OpsDeps, principal: Principal, input: { requestId: string }): Promise<Omit<RequestDetail, 'id'>> {
  authorize(principal, 'read')
  const detail = await getRequest(deps.db, principal.tenant, input.requestId)
  if (!detail) throw ERR_NOT_FOUND(`no request ${input.requestId} in tenant ${principal.tenant}`)
  const { id: _id, ...shown } = detail
  return shown
}
