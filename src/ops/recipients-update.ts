import { savePlugin } from '../notifier/plugin-configurations.ts'
import type { RecipientView } from '../notifier/recipient-listing.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import { checkBody, PluginFields, strict, withValues } from './plugin-input.ts'
import type { Principal } from './principal.ts'
import { viewRecipient } from './recipients-show.ts'

/** What `PUT /recipients/{businessId}` and `herald recipients update` take: the whole configuration. */
export const RecipientUpdateBody = strict(PluginFields)

/**
 * Replaces a recipient's configuration; secrets sent back masked keep their stored value. Its waiting
 * deliveries are tried at once with it (a fixed address or key is why one changes a recipient).
 */
export function recipientsUpdate(deps: OpsDeps, principal: Principal, input: { businessId: string; body: unknown }): Promise<RecipientView> {
  return audited(deps, principal, { action: 'recipients.update', target: input.businessId, access: 'admin' }, async () => {
    const body = checkBody(RecipientUpdateBody, input.body)
    const row = await savePlugin(deps.db, deps.secrets, principal.tenant, 'RECIPIENT', input.businessId, { ...body, parameters: withValues(body.parameters) }, 'update', undefined, deps.config.crossTenantPublish)
    deps.configCache.invalidate(principal.tenant)
    deps.signals.deliveries()
    return viewRecipient(deps, principal.tenant, row)
  })
}
