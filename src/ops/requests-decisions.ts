import { ERR_NOT_FOUND } from '../errors.ts'
import { explainDecisions, type RecipientDecision } from '../notifier/explain-decisions.ts'
import { getRequest } from '../notifier/request-listing.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

export interface RequestDecisions {
  requestId: string
  mode: string
  /** The configuration evaluated is the one in force now, on the stored payload and metadata. */
  evaluatedAt: Date
  recipients: RecipientDecision[]
}

/** For every recipient of the tenant: would the rules in force send it this request, and if not, which clause fails. */
export async function requestsDecisions(deps: OpsDeps, principal: Principal, input: { requestId: string }): Promise<RequestDecisions> {
  authorize(principal, 'read')
  const request = await getRequest(deps.db, principal.tenant, input.requestId)
  if (!request) throw ERR_NOT_FOUND(`no request ${input.requestId} in tenant ${principal.tenant}`)
  const config = await deps.configCache.get(principal.tenant)
  const recipients = await explainDecisions(deps.db, config, {
    mode: request.mode,
    payload: request.payload,
    metadata: request.metadata,
    deliveredTo: request.deliveries.map((d) => d.recipient),
  })
  return { requestId: request.requestId, mode: request.mode, evaluatedAt: new Date(), recipients }
}
