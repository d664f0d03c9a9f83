import { createAips, type AipInput, type AipResult } from '../catalog/create-aips.ts'
import { ERR_VALIDATION } from '../errors.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

/** As many AIPs as rs-ingest accepts in one submission: one transaction, one answer per entry. */
export const CREATE_AIPS_MAX = 1000

/**
 * Records AIP products (src/catalog/create-aips.ts), in one transaction: each entry gets its own result, so an
 * invalid or existing one (status ERROR) does not stop the others.
 */
export function catalogCreateAips(deps: OpsDeps, principal: Principal, input: { aips: AipInput[] }): Promise<{ results: AipResult[] }> {
  const aips = Array.isArray(input.aips) ? input.aips : []
  return audited(
    deps,
    principal,
    { action: 'catalog.create-aips', target: aips.map((a) => a?.providerId).join(',').slice(0, 500), access: 'admin' },
    async () => {
      if (aips.length === 0 || aips.length > CREATE_AIPS_MAX) throw ERR_VALIDATION(`give 1 to ${CREATE_AIPS_MAX} AIPs, not ${aips.length}`)
      return createAips(deps.db, principal.tenant, aips)
    },
    ({ results }) => `${results.filter((r) => r.status === 'CREATED').length} created, ${results.filter((r) => r.status === 'ERROR').length} refused`,
  )
}
