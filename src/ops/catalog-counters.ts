import { catalogCounters as readCatalogCounters } from '../catalog/queries/counters.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

/** The tenant's catalog anomaly counters by name (acks for unknown URNs or labels, duplicates, dead letters …). */
export function catalogCounters(deps: OpsDeps, principal: Principal): Promise<Record<string, number>> {
  authorize(principal, 'read')
  return readCatalogCounters(deps.db, principal.tenant)
}
