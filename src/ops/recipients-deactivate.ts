import { setPluginActive } from '../notifier/plugin-configurations.ts'
import type { RecipientView } from '../notifier/recipient-listing.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'
import { viewRecipient } from './recipients-show.ts'

/** Deactivates a recipient: its deliveries wait (nothing is dropped) until it is activated again. */
export function recipientsDeactivate(deps: OpsDeps, principal: Principal, input: { businessId: string }): Promise<RecipientView> {
  return audited(deps, principal, { action: 'recipients.deactivate', target: input.businessId, access: 'admin' }, async () => {
    const row = await setPluginActive(deps.db, principal.tenant, 'RECIPIENT', input.businessId, false)
    deps.configCache.invalidate(principal.tenant)
    return viewRecipient(deps, principal.tenant, row)
  })
}
