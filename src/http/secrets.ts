import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import { MASK } from '../notifier/config-export.ts'
import { PLUGIN_CONFIGURATION_KEY, type NotifierConfigFile } from '../notifier/config-import.ts'
import { isSensitiveParameter } from '../plugins/registry.ts'
import type { PluginParameter } from '../senders/sender.ts'

/**
 * Secrets are write-only: the API never returns them. A parameter its plugin declares sensitive (or one
 * no plugin declares) is replaced by the mask, and so is the password of a URL with credentials
 * (`amqp://user:pass@host` → `amqp://user:********@host`). An update that sends the mask back keeps the
 * stored value, so a client can GET, edit one field and PUT the whole configuration.
 */
const URL_CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/[^:@/?#\s]*):([^@/?#\s]+)@/i

function maskValue(value: unknown, secret: boolean): unknown {
  if (value === undefined || value === null) return value
  if (secret) return MASK
  if (typeof value === 'string') return value.replace(URL_CREDENTIALS, (_m, head: string) => `${head}:${MASK}@`)
  if (Array.isArray(value)) return value.map((v) => maskValue(v, false))
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, maskValue(v, false)]))
  return value
}

/** The parameters of a configuration of `pluginId`, secrets masked. */
export function maskSecrets(pluginId: string, parameters: PluginParameter[]): PluginParameter[] {
  return parameters.map((p) => ({ ...p, value: maskValue(p.value, isSensitiveParameter(pluginId, p.name)) }))
}

/** The incoming value, with every masked part taken from the stored value it stands for. */
function unmaskValue(incoming: unknown, stored: unknown): unknown {
  if (incoming === MASK) return stored === undefined ? incoming : stored
  if (typeof incoming === 'string' && typeof stored === 'string' && incoming.includes(MASK) && maskValue(stored, false) === incoming) return stored
  if (Array.isArray(incoming) && Array.isArray(stored)) return incoming.map((v, i) => unmaskValue(v, stored[i]))
  if (incoming && typeof incoming === 'object' && stored && typeof stored === 'object' && !Array.isArray(incoming)) {
    const s = stored as Record<string, unknown>
    return Object.fromEntries(Object.entries(incoming as Record<string, unknown>).map(([k, v]) => [k, unmaskValue(v, s[k])]))
  }
  return incoming
}

export function keepMaskedSecrets(incoming: PluginParameter[], stored: PluginParameter[]): PluginParameter[] {
  const byName = new Map(stored.map((p) => [p.name, p.value]))
  return incoming.map((p) => (byName.has(p.name) ? { ...p, value: unmaskValue(p.value, byName.get(p.name)) } : p))
}

/** True when a value still holds the mask (a secret sent back for a configuration that has none stored). */
export function containsMask(parameters: PluginParameter[]): string | undefined {
  const walk = (v: unknown): boolean =>
    v === MASK || (typeof v === 'string' && v.includes(`:${MASK}@`)) || (Array.isArray(v) ? v.some(walk) : !!v && typeof v === 'object' && Object.values(v).some(walk))
  return parameters.find((p) => walk(p.value))?.name
}

/**
 * A re-imported export carries masked secrets: each one takes the value stored for the same businessId
 * and parameter, so export → edit → import never overwrites a secret with the mask.
 */
export async function restoreMaskedSecrets(db: Db, tenant: string, file: NotifierConfigFile): Promise<NotifierConfigFile> {
  const { rows } = await sql<{ business_id: string; parameters: PluginParameter[] }>`select business_id, parameters
    from plugin_configuration where tenant = ${tenant}`.execute(db)
  const stored = new Map(rows.map((r) => [r.business_id, r.parameters]))
  return {
    ...file,
    modules: file.modules.map((m) => ({
      ...m,
      configuration: m.configuration.map((entry) => {
        const previous = entry.key === PLUGIN_CONFIGURATION_KEY ? stored.get(entry.value?.businessId) : undefined
        if (!previous || !Array.isArray(entry.value?.parameters)) return entry
        return { ...entry, value: { ...entry.value, parameters: keepMaskedSecrets(entry.value.parameters, previous) } }
      }),
    })),
  }
}
