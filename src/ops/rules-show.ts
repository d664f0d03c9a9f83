import { ERR_NOT_FOUND } from '../errors.ts'
import { describeRules, findPlugin, type Rule } from '../notifier/plugin-configurations.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

/** One rule with its recipients; secrets masked. */
export async function rulesShow(deps: OpsDeps, principal: Principal, input: { businessId: string }): Promise<Rule> {
  authorize(principal, 'read')
  const row = await findPlugin(deps.db, principal.tenant, 'RULE', input.businessId)
  if (!row) throw ERR_NOT_FOUND(`no rule ${input.businessId} in tenant ${principal.tenant}`)
  const [rule] = await describeRules(deps.db, principal.tenant, [row])
  return rule
}
