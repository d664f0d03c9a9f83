import { deleteRecipient } from '../notifier/delete-recipient.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

export interface RecipientDeleted {
  businessId: string
  /** Deliveries waiting or in progress that `force` dropped. */
  droppedDeliveries: number
  /** Requests left with nothing to deliver, completed at once. */
  completedRequests: number
}

/**
 * Deletes a recipient. Refused HERALD_ERR_RECIPIENT_BUSY while it has deliveries waiting or in progress,
 * unless `force`: they are dropped, and the requests left with nothing to deliver complete (their events
 * go out through the outbox, woken here).
 */
export function recipientsDelete(deps: OpsDeps, principal: Principal, input: { businessId: string; force?: boolean }): Promise<RecipientDeleted> {
  return audited(
    deps,
    principal,
    { action: 'recipients.delete', target: input.businessId, access: 'admin' },
    async () => {
      const { tenant } = principal
      const result = await deleteRecipient(deps.db, tenant, input.businessId, input.force === true, (t) => deps.configCache.get(t))
      deps.configCache.invalidate(tenant)
      if (result.completed > 0) deps.signals.outbox()
      return { businessId: input.businessId, droppedDeliveries: result.dropped, completedRequests: result.completed }
    },
    (r) => `${r.droppedDeliveries} deliveries dropped, ${r.completedRequests} requests completed`,
  )
}
