import { describeRules, listPlugins, type Rule } from '../notifier/plugin-configurations.ts'
import type { OpsDeps } from './deps.ts'
import { decodeCursor, pageLimit, toPage, type Page, type PageInput } from './page.ts'
import { authorize, type Principal } from './principal.ts'

/** The tenant's rules by businessId, with their recipients; secrets masked. */
export async function rulesList(deps: OpsDeps, principal: Principal, input: PageInput): Promise<Page<Rule>> {
  authorize(principal, 'read')
  const limit = pageLimit(input)
  const after = decodeCursor(input.cursor, ['string'])
  // A tenant has tens to hundreds of rules, read at once (listPlugins): the page is cut from them.
  const all = await listPlugins(deps.db, principal.tenant, 'RULE')
  const rows = (after ? all.filter((r) => r.business_id > after[0]) : all).slice(0, limit + 1)
  const rules = await describeRules(deps.db, principal.tenant, rows)
  return toPage(rules, limit, (r) => [r.businessId], (r) => r)
}
