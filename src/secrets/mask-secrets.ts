import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import { PLUGIN_CONFIGURATION_KEY, type NotifierConfigFile } from '../notifier/config-import.ts'
import type { SecretBox } from './secret-box.ts'
import { MASK, mapSecretParts, openParameters, type ConfigurationPlace } from './secret-parameters.ts'
import type { PluginParameter } from '../senders/sender.ts'
import { ERR_INVALID_CONFIGURATION } from '../errors.ts'

/**
 * Secrets are write-only: the API never returns them. Every secret part (src/secrets/secret-parameters.ts)
 * is replaced by the mask: `amqp://user:pass@host` → `amqp://user:********@host`. An update that sends the
 * mask back keeps the stored value, so a client can GET, edit one field and PUT the whole configuration;
 * but not when it also changes where the secret goes (DESTINATION_PARAMETERS, or the host of the URL that
 * carries the password): the client must then send the secret again, so nobody who may edit a recipient
 * but does not know its secret can send the secret to a server of their own.
 */
export function maskSecrets(pluginId: string, parameters: PluginParameter[]): PluginParameter[] {
  return mapSecretParts(pluginId, parameters, () => MASK)
}

/** Parameters that say where a recipient's secrets are sent. */
const DESTINATION_PARAMETERS = ['url', 'host', 'port', 'exchange']
const URL_CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/)([^:@/?#\s]*):([^@/?#\s]+)@/i

function originOf(url: string): string | undefined {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}`
  } catch {
    return undefined
  }
}

interface Unmasking {
  /** Secret parts taken from the stored configuration, by parameter path. */
  kept: string[]
  errors: string[]
}

/** The incoming value, with every masked part taken from the stored value it stands for. */
function unmaskValue(incoming: unknown, stored: unknown, path: string, u: Unmasking): unknown {
  if (incoming === MASK) {
    if (stored === undefined) return incoming
    u.kept.push(path)
    return stored
  }
  if (typeof incoming === 'string' && typeof stored === 'string') {
    const now = URL_CREDENTIALS.exec(incoming)
    const before = URL_CREDENTIALS.exec(stored)
    if (!now || now[3] !== MASK || !before) return incoming
    if (originOf(incoming) !== originOf(stored)) {
      u.errors.push(`parameter ${path}: the host of the URL changed while its password was sent as ${MASK}: send the password again`)
      return incoming
    }
    u.kept.push(path)
    return `${now[1]}${now[2]}:${before[3]}@${incoming.slice(now[0].length)}`
  }
  if (Array.isArray(incoming) && Array.isArray(stored)) return incoming.map((v, i) => unmaskValue(v, stored[i], `${path}[${i}]`, u))
  if (incoming && typeof incoming === 'object' && stored && typeof stored === 'object' && !Array.isArray(incoming)) {
    const s = stored as Record<string, unknown>
    return Object.fromEntries(Object.entries(incoming as Record<string, unknown>).map(([k, v]) => [k, unmaskValue(v, s[k], `${path}.${k}`, u)]))
  }
  return incoming
}

/**
 * The incoming parameters with masked secrets taken from the stored (clear) ones. Throws 400 when a kept
 * secret would go to another destination than the stored one.
 */
export function keepMaskedSecrets(incoming: PluginParameter[], stored: PluginParameter[]): PluginParameter[] {
  const byName = new Map(stored.map((p) => [p.name, p.value]))
  const u: Unmasking = { kept: [], errors: [] }
  const result = incoming.map((p) => (byName.has(p.name) ? { ...p, value: unmaskValue(p.value, byName.get(p.name), p.name, u) } : p))
  if (u.kept.length > 0) {
    const now = new Map(result.map((p) => [p.name, p.value]))
    for (const name of DESTINATION_PARAMETERS) {
      if (String(now.get(name) ?? '') !== String(byName.get(name) ?? '')) {
        u.errors.push(`parameter ${name} changed while ${u.kept.join(', ')} ${u.kept.length > 1 ? 'were' : 'was'} sent as ${MASK}: send the secret again with the new destination`)
      }
    }
  }
  if (u.errors.length > 0) throw ERR_INVALID_CONFIGURATION(u.errors.join('; '), { errors: u.errors })
  return result
}

/**
 * {@link keepMaskedSecrets} against stored (sealed) parameters, opened only when the client sent a mask. Stored
 * secrets that do not open answer 400 asking for them.
 */
export function keepStoredSecrets(secrets: SecretBox, place: ConfigurationPlace, incoming: PluginParameter[], stored: PluginParameter[]): PluginParameter[] {
  if (!containsMask(incoming)) return incoming
  let clear: PluginParameter[]
  try {
    clear = openParameters(secrets, place, stored)
  } catch (err) {
    throw ERR_INVALID_CONFIGURATION(`${(err as Error).message}: send the secrets themselves, not ${MASK}`)
  }
  return keepMaskedSecrets(incoming, clear)
}

/** True when a value still holds the mask (a secret sent back for a configuration that has none stored). */
export function containsMask(parameters: PluginParameter[]): string | undefined {
  const walk = (v: unknown): boolean =>
    v === MASK || (typeof v === 'string' && v.includes(`:${MASK}@`)) || (Array.isArray(v) ? v.some(walk) : !!v && typeof v === 'object' && Object.values(v).some(walk))
  return parameters.find((p) => walk(p.value))?.name
}

/**
 * A re-imported export carries masked secrets: each one takes the value stored for the same businessId
 * and parameter, so export → edit → import never overwrites a secret with the mask. Throws 400 as
 * {@link keepMaskedSecrets} does when a masked secret's destination changed.
 */
export async function restoreMaskedSecrets(db: Db, secrets: SecretBox, tenant: string, file: NotifierConfigFile): Promise<NotifierConfigFile> {
  const { rows } = await sql<{ business_id: string; plugin_id: string; parameters: PluginParameter[] }>`select business_id, plugin_id, parameters
    from plugin_configuration where tenant = ${tenant}`.execute(db)
  const stored = new Map(rows.map((r) => [r.business_id, r]))
  return {
    ...file,
    modules: file.modules.map((m) => ({
      ...m,
      configuration: m.configuration.map((entry) => {
        const previous = entry.key === PLUGIN_CONFIGURATION_KEY ? stored.get(entry.value?.businessId) : undefined
        if (!previous || !Array.isArray(entry.value?.parameters)) return entry
        const place = { tenant, businessId: previous.business_id, pluginId: previous.plugin_id }
        return { ...entry, value: { ...entry.value, parameters: keepStoredSecrets(secrets, place, entry.value.parameters, previous.parameters) } }
      }),
    })),
  }
}
