import type { RecipientView } from '../notifier/recipient-listing.ts'
import { unparkRecipient } from '../notifier/recipient-state.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'
import { findRecipient, viewRecipient } from './recipients-show.ts'

/** Unparks a recipient: the delivery workers of every instance are woken and its backlog drains at once. */
export function recipientsUnpark(deps: OpsDeps, principal: Principal, input: { businessId: string }): Promise<RecipientView> {
  return audited(deps, principal, { action: 'recipients.unpark', target: input.businessId, access: 'admin' }, async () => {
    const row = await findRecipient(deps, principal.tenant, input.businessId)
    if (await unparkRecipient(deps.db, row.id)) deps.signals.deliveries()
    return viewRecipient(deps, principal.tenant, row)
  })
}
