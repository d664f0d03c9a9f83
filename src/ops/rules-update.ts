import { describeRules, savePlugin, type Rule } from '../notifier/plugin-configurations.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'
import { checkRuleInput, type RuleInput } from './rule-input.ts'

/**
 * Replaces a rule and its recipients. Secrets sent back masked keep their stored value. Refused
 * HERALD_ERR_NOT_FOUND when the tenant has no such rule.
 */
export function rulesUpdate(deps: OpsDeps, principal: Principal, input: { businessId: string; rule: RuleInput }): Promise<Rule> {
  return audited(deps, principal, { action: 'rules.update', target: input.businessId, access: 'admin' }, async () => {
    checkRuleInput(input.rule)
    const { recipients, ...configuration } = input.rule
    const row = await savePlugin(deps.db, deps.secrets, principal.tenant, 'RULE', input.businessId, configuration, 'update', recipients)
    deps.configCache.invalidate(principal.tenant)
    const [rule] = await describeRules(deps.db, principal.tenant, [row])
    return rule
  })
}
