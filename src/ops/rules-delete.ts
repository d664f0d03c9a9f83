import { deleteRule } from '../notifier/plugin-configurations.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

/**
 * Deletes a rule and its associations (nothing refers to a rule: requests keep the recipients they were
 * matched to). Refused HERALD_ERR_NOT_FOUND when the tenant has no such rule.
 */
export function rulesDelete(deps: OpsDeps, principal: Principal, input: { businessId: string }): Promise<{ businessId: string }> {
  return audited(deps, principal, { action: 'rules.delete', target: input.businessId, access: 'admin' }, async () => {
    await deleteRule(deps.db, principal.tenant, input.businessId)
    deps.configCache.invalidate(principal.tenant)
    return { businessId: input.businessId }
  })
}
