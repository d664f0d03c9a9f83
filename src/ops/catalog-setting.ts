import { setCatalogSetting, type CatalogSettings } from '../catalog/settings.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

/** Sets one catalog tenant setting (src/catalog/settings.ts: `active_notifications`); returns them all. */
export function catalogSetting(deps: OpsDeps, principal: Principal, input: { name: string; value: unknown }): Promise<CatalogSettings> {
  return audited(
    deps,
    principal,
    { action: 'catalog.setting', target: input.name, access: 'admin' },
    () => setCatalogSetting(deps.db, principal.tenant, input.name, input.value),
    () => `${input.name} = ${JSON.stringify(input.value)}`,
  )
}
