import { isSensitiveParameter } from '../plugins/registry.ts'
import type { PluginParameter } from '../senders/sender.ts'
import { isSealed, sealedKeyId, SecretOpenError, type SecretBox } from './secret-box.ts'

/** What the API, the CLI and exports show in place of a secret. */
export const MASK = '********'

const URL_CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/[^:@/?#\s]*):([^@/?#\s]+)@/i

/**
 * The parameters with every secret part replaced by `replace(part, path)`: the whole value of a parameter
 * its plugin declares sensitive (isSensitiveParameter, which also counts undeclared ones), and the password
 * of any URL with credentials (`amqp://user:pass@host`, the part is `pass`). Masking, sealing and opening all walk the same parts, so a
 * sealed configuration masks exactly as the clear one does.
 */
export function mapSecretParts(pluginId: string, parameters: PluginParameter[], replace: (part: unknown, path: string) => unknown): PluginParameter[] {
  const walk = (value: unknown, secret: boolean, path: string): unknown => {
    if (value === undefined || value === null) return value
    if (secret) return replace(value, path)
    if (typeof value === 'string') return value.replace(URL_CREDENTIALS, (_m, head: string, password: string) => `${head}:${replace(password, path)}@`)
    if (Array.isArray(value)) return value.map((v, i) => walk(v, false, `${path}[${i}]`))
    if (typeof value === 'object') {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, walk(v, false, `${path}.${k}`)]))
    }
    return value
  }
  return parameters.map((p) => ({ ...p, value: walk(p.value, isSensitiveParameter(pluginId, p.name), p.name) }))
}

/** Where a configuration lives: authenticated with each sealed value, named in errors. */
export interface ConfigurationPlace {
  tenant: string
  businessId: string
  pluginId: string
}

const contextOf = (place: ConfigurationPlace, path: string) => `${place.tenant}\u0000${place.businessId}\u0000${path}`

/** The parameters as stored: every secret part sealed (a URL's password is sealed in place, the rest stays readable). */
export function sealParameters(box: SecretBox, place: ConfigurationPlace, parameters: PluginParameter[]): PluginParameter[] {
  return mapSecretParts(place.pluginId, parameters, (part, path) => box.seal(JSON.stringify(part), contextOf(place, path)))
}

/**
 * The parameters with every sealed part opened. A part that is not sealed was stored in clear by a Herald
 * older than sealing; it is used as it is (and sealed at the next start). Throws a SecretOpenError naming
 * the configuration and the parameter when a part does not open.
 */
export function openParameters(box: SecretBox, place: ConfigurationPlace, parameters: PluginParameter[]): PluginParameter[] {
  return mapSecretParts(place.pluginId, parameters, (part, path) => {
    if (!isSealed(part)) return part
    try {
      return JSON.parse(box.open(part, contextOf(place, path)))
    } catch (err) {
      throw new SecretOpenError(`the secret parameter ${path} of ${place.businessId} (tenant ${place.tenant}) does not open: ${(err as Error).message}`)
    }
  })
}

/**
 * What stored parameters hold: `stale` secrets to seal again (in clear, or sealed with the previous key), and
 * the ids of the keys this instance does not have that sealed others.
 */
export function inspectSecrets(box: SecretBox, pluginId: string, parameters: PluginParameter[]): { stale: number; foreignKeys: Set<string> } {
  let stale = 0
  const foreignKeys = new Set<string>()
  mapSecretParts(pluginId, parameters, (part) => {
    const keyId = isSealed(part) ? sealedKeyId(part)! : undefined
    if (keyId === undefined || (keyId !== box.keyId && box.opens(keyId))) stale++
    else if (!box.opens(keyId)) foreignKeys.add(keyId)
    return part
  })
  return { stale, foreignKeys }
}
