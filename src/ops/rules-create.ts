import { savePlugin, describeRules, type Rule } from '../notifier/plugin-configurations.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'
import { checkRuleInput, type RuleInput } from './rule-input.ts'

/**
 * Creates a rule (a random businessId unless one is given) and associates its recipients. Refused
 * HERALD_ERR_ALREADY_EXISTS when the businessId is taken, by a rule or a recipient. The running instances
 * match with it within a second (config_version); this one at once (its configuration cache is dropped).
 */
export function rulesCreate(deps: OpsDeps, principal: Principal, input: RuleInput & { businessId?: string }): Promise<Rule> {
  return audited(deps, principal, { action: 'rules.create', target: input?.businessId, access: 'admin' }, async () => {
    checkRuleInput(input)
    const { businessId, recipients, ...configuration } = input
    const row = await savePlugin(deps.db, deps.secrets, principal.tenant, 'RULE', businessId, configuration, 'create', recipients)
    deps.configCache.invalidate(principal.tenant)
    const [rule] = await describeRules(deps.db, principal.tenant, [row])
    return rule
  }, (rule) => `created ${rule.businessId}`)
}
