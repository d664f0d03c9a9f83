import { ERR_VALIDATION } from '../errors.ts'
import type { RecipientView } from '../notifier/recipient-listing.ts'
import { parkRecipient } from '../notifier/recipient-state.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'
import { findRecipient, viewRecipient } from './recipients-show.ts'

export const PARK_REASON_MAX = 500

/**
 * Parks a recipient: its deliveries wait (nothing is dropped) until it is unparked. The reason, shown
 * with its state, says who parked it when none is given.
 */
export function recipientsPark(deps: OpsDeps, principal: Principal, input: { businessId: string; reason?: string }): Promise<RecipientView> {
  return audited(deps, principal, { action: 'recipients.park', target: input.businessId, access: 'admin' }, async () => {
    const reason = input.reason?.trim()
    if (reason === '' || (reason?.length ?? 0) > PARK_REASON_MAX) throw ERR_VALIDATION(`reason must be 1 to ${PARK_REASON_MAX} characters`)
    const row = await findRecipient(deps, principal.tenant, input.businessId)
    await parkRecipient(deps.db, { id: row.id, tenant: principal.tenant }, reason ?? `parked by an operator (${principal.subject ?? 'unnamed'})`)
    return viewRecipient(deps, principal.tenant, row)
  })
}
