import { requestDissemination, type DisseminationRequestInput, type DisseminationRequestResult } from '../catalog/request-dissemination.ts'
import { PRIORITY_LEVELS } from '../catalog/types.ts'
import { ERR_NOT_FOUND, ERR_VALIDATION } from '../errors.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

/**
 * Asks the notifier to disseminate products, by the rules or to the given recipients, one request per product
 * (src/catalog/request-dissemination.ts); the catalog workers of every instance send them at once. A URN the
 * tenant does not have gets an `error` in its result; refused (not found) when none of them exists. The request
 * owner is the principal's subject unless given.
 */
export function catalogDisseminate(deps: OpsDeps, principal: Principal, input: DisseminationRequestInput): Promise<{ results: DisseminationRequestResult[] }> {
  return audited(
    deps,
    principal,
    { action: 'catalog.disseminate', target: `${input.urns.join(',').slice(0, 400)}${input.recipients?.length ? ` recipients=${input.recipients.join(',').slice(0, 100)}` : ''}`, access: 'admin' },
    async () => {
      if (input.urns.length === 0) throw ERR_VALIDATION('give the URNs of the products to disseminate')
      if (input.priority !== undefined && !Object.hasOwn(PRIORITY_LEVELS, input.priority)) throw ERR_VALIDATION(`priority must be one of ${Object.keys(PRIORITY_LEVELS).join(', ')}`)
      const outcome = await requestDissemination(deps.db, principal.tenant, { ...input, owner: input.owner ?? principal.subject })
      if (outcome.results.every((r) => r.error !== undefined)) throw ERR_NOT_FOUND(`no product ${input.urns.join(', ')} in tenant ${principal.tenant}`)
      deps.signals.catalog()
      return outcome
    },
    (outcome) => `${outcome.results.filter((r) => r.requestId).length} dissemination requests: ${outcome.results.map((r) => r.requestId ?? r.error).join(',')}`,
  )
}
