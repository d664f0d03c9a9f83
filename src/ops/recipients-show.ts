import { ERR_NOT_FOUND } from '../errors.ts'
import { findPlugin, type PluginRow } from '../notifier/plugin-configurations.ts'
import { viewRecipients, type RecipientView } from '../notifier/recipient-listing.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

/** One recipient of the principal's tenant with its live state. */
export async function recipientsShow(deps: OpsDeps, principal: Principal, input: { businessId: string }): Promise<RecipientView> {
  authorize(principal, 'read')
  return viewRecipient(deps, principal.tenant, await findRecipient(deps, principal.tenant, input.businessId))
}

/** The recipient's row, refused HERALD_ERR_NOT_FOUND when the tenant has none of this businessId. */
export async function findRecipient(deps: OpsDeps, tenant: string, businessId: string): Promise<PluginRow> {
  const row = await findPlugin(deps.db, tenant, 'RECIPIENT', businessId)
  if (!row) throw ERR_NOT_FOUND(`no recipient ${businessId}`)
  return row
}

export async function viewRecipient(deps: OpsDeps, tenant: string, row: PluginRow): Promise<RecipientView> {
  return (await viewRecipients(deps.db, tenant, [row]))[0]
}
