import { forceDeletions } from '../catalog/force-deletions.ts'
import { getProduct } from '../catalog/queries/get-product.ts'
import { listRequests } from '../catalog/queries/list-requests.ts'
import { ERR_CATALOG_REQUEST_STATE, ERR_NOT_FOUND, ERR_VALIDATION } from '../errors.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

export interface CatalogForceDeletionInput {
  /** Products whose deletion waits for a blocking dissemination. */
  urns?: string[]
  /** Deletion requests that wait for one. */
  requestIds?: string[]
}

/**
 * Forces the deletions that wait for a blocking dissemination (src/catalog/force-deletions.ts): processed again
 * at once, ignoring it. When none was forced, refused: not found when none of the products or requests named
 * exists in the tenant, a conflict when they exist but no deletion of theirs waits.
 */
export function catalogForceDeletion(deps: OpsDeps, principal: Principal, input: CatalogForceDeletionInput): Promise<{ forced: string[] }> {
  const urns = input.urns ?? []
  const requestIds = input.requestIds ?? []
  return audited(
    deps,
    principal,
    { action: 'catalog.force-deletion', target: [...urns, ...requestIds].join(',').slice(0, 500), access: 'admin' },
    async () => {
      if (urns.length === 0 && requestIds.length === 0) throw ERR_VALIDATION('give the URNs of the products or the ids of their deletion requests')
      const outcome = await forceDeletions(deps.db, principal.tenant, { urns, requestIds })
      if (outcome.forced.length > 0) {
        deps.signals.catalog()
        return outcome
      }
      const known = await Promise.all([
        ...urns.map(async (urn) => (await getProduct(deps.db, principal.tenant, urn)) !== undefined),
        ...requestIds.map(async (requestId) => (await listRequests(deps.db, principal.tenant, { requestId, limit: 1 })).items.length > 0),
      ])
      const named = [...urns, ...requestIds].join(', ')
      if (!known.some(Boolean)) throw ERR_NOT_FOUND(`no product or deletion request ${named} in tenant ${principal.tenant}`)
      throw ERR_CATALOG_REQUEST_STATE(`no deletion of ${named} waits for a blocking dissemination (step WAITING_BLOCKING_DISSEMINATION)`)
    },
    (outcome) => `${outcome.forced.length} deletions forced: ${outcome.forced.join(',')}`,
  )
}
