import { setPluginActive } from '../notifier/plugin-configurations.ts'
import type { RecipientView } from '../notifier/recipient-listing.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'
import { viewRecipient } from './recipients-show.ts'

/** Activates a recipient: rules send to it again, and its waiting deliveries flow at once. */
export function recipientsActivate(deps: OpsDeps, principal: Principal, input: { businessId: string }): Promise<RecipientView> {
  return audited(deps, principal, { action: 'recipients.activate', target: input.businessId, access: 'admin' }, async () => {
    const row = await setPluginActive(deps.db, principal.tenant, 'RECIPIENT', input.businessId, true)
    deps.configCache.invalidate(principal.tenant)
    deps.signals.deliveries()
    return viewRecipient(deps, principal.tenant, row)
  })
}
