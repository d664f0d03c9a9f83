import { randomUUID } from 'node:crypto'
import { Type } from 'typebox'
import { savePlugin } from '../notifier/plugin-configurations.ts'
import type { RecipientView } from '../notifier/recipient-listing.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import { BusinessId, checkBody, PluginFields, strict, withValues } from './plugin-input.ts'
import type { Principal } from './principal.ts'
import { viewRecipient } from './recipients-show.ts'

/** What `POST /recipients` and `herald recipients create` take: a REGARDS recipient plugin configuration. */
export const RecipientCreateBody = strict({ businessId: Type.Optional({ ...BusinessId, description: 'generated (a UUID) when absent' }), ...PluginFields })

/** Creates a recipient; every instance builds its sender within a second (config_version). */
export function recipientsCreate(deps: OpsDeps, principal: Principal, input: { body: unknown }): Promise<RecipientView> {
  const given = (input.body as { businessId?: unknown } | null)?.businessId
  // Known before the body is checked: the audit entry of a refused creation names the recipient too.
  const businessId = typeof given === 'string' ? given.slice(0, 100) : randomUUID()
  return audited(deps, principal, { action: 'recipients.create', target: businessId, access: 'admin' }, async () => {
    const { businessId: _id, ...body } = checkBody(RecipientCreateBody, input.body)
    const row = await savePlugin(deps.db, deps.secrets, principal.tenant, 'RECIPIENT', businessId, { ...body, parameters: withValues(body.parameters) }, 'create', undefined, deps.config.crossTenantPublish)
    deps.configCache.invalidate(principal.tenant)
    return viewRecipient(deps, principal.tenant, row)
  })
}
