import { listPluginMetadata, type PluginMetadata } from '../plugins/registry.ts'
import { authorize, type Principal } from './principal.ts'

/**
 * Every recipient sender and rule matcher with its parameters. Plugins are Herald's, not a tenant's: no
 * dependencies, and the CLI answers without a database.
 */
export function pluginsList(principal: Pick<Principal, 'role'>): PluginMetadata[] {
  authorize(principal, 'read')
  return listPluginMetadata()
}
