import { ERR_NOT_FOUND } from '../errors.ts'
import { findPluginMetadata, type PluginMetadata } from '../plugins/registry.ts'
import { authorize, type Principal } from './principal.ts'

/** One plugin and its parameters (see pluginsList: no dependencies, no tenant). */
export function pluginsShow(principal: Pick<Principal, 'role'>, input: { pluginId: string }): PluginMetadata {
  authorize(principal, 'read')
  const plugin = findPluginMetadata(input.pluginId)
  if (!plugin) throw ERR_NOT_FOUND(`no plugin ${input.pluginId} (herald plugins list, GET /api/v1/plugins list them)`)
  return plugin
}
