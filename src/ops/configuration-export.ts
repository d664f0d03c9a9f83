import { exportNotifierConfig } from '../notifier/config-export.ts'
import type { NotifierConfigFile } from '../notifier/config-import.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

/** The tenant's rules and recipients in the REGARDS import format, secrets masked: an export can be shared. */
export async function configurationExport(deps: OpsDeps, principal: Principal): Promise<NotifierConfigFile> {
  authorize(principal, 'read')
  return exportNotifierConfig(deps.db, principal.tenant)
}
