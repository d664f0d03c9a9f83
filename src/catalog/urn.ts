import { createHash } from 'node:crypto'

/**
 * REGARDS URNs:
 * `URN:<identifier>:<entityType>:<tenant>:<uuid>:V<version>[,<order>][:REV<revision>]`, or `LAST` for the version.
 */
export const URN_PATTERN = /^URN:[^:]+:[^:]+:[^:]+:[^:]+:(V\d{1,3}|LAST)(,\d+)?(:REV.+)?$/

export const ENTITY_TYPES = ['DATA', 'DATASET', 'COLLECTION'] as const
export const OAIS_IDENTIFIERS = ['AIP', 'SIP', 'DIP'] as const
export type EntityType = (typeof ENTITY_TYPES)[number]

export interface Urn {
  identifier: string
  entityType: EntityType
  tenant: string
  uuid: string
  /** Undefined for `LAST`. */
  version: number | undefined
  order: number | undefined
  revision: string | undefined
}

/** Largest feature URN REGARDS stores (`FeatureUniformResourceName.MAX_SIZE`, the DB column length). */
export const FEATURE_URN_MAX_SIZE = 132
export const URN_MAX_SIZE = 255

// Java's UUID.fromString is lenient (1 to 8, 4, 4, 4 and 12 hex digits); REGARDS accepts what it accepts.
const JAVA_UUID = /^[0-9a-fA-F]{1,8}-[0-9a-fA-F]{1,4}-[0-9a-fA-F]{1,4}-[0-9a-fA-F]{1,4}-[0-9a-fA-F]{1,12}$/

export type UrnResult = { ok: true; urn: Urn } | { ok: false; error: string }

/**
 * Parses a URN as `UniformResourceName.fromString` does: full regex match, entity type among
 * DATA|DATASET|COLLECTION, a Java-parsable UUID, a version from 1 to 999.
 */
export function parseUrn(value: unknown): UrnResult {
  if (typeof value !== 'string') return { ok: false, error: 'URN must be a string' }
  if (!URN_PATTERN.test(value)) return { ok: false, error: `"${clip(value)}" is not a URN (URN:<identifier>:<entityType>:<tenant>:<uuid>:V<version>)` }
  const parts = value.split(':')
  const [, identifier, entityType, tenant, uuid] = parts
  const versionPart = parts.slice(5).join(':')
  if (!(ENTITY_TYPES as readonly string[]).includes(entityType)) {
    return { ok: false, error: `"${clip(value)}": entity type ${entityType} is not one of ${ENTITY_TYPES.join(', ')}` }
  }
  if (!JAVA_UUID.test(uuid)) return { ok: false, error: `"${clip(value)}": ${uuid} is not a UUID` }
  const m = /^(?:V(\d{1,3})|LAST)(?:,(\d+))?(?::REV(.+))?$/.exec(versionPart)!
  const version = m[1] === undefined ? undefined : Number(m[1])
  if (version !== undefined && (version < 1 || version > 999)) return { ok: false, error: `"${clip(value)}": version must be between 1 and 999` }
  return {
    ok: true,
    urn: {
      identifier,
      entityType: entityType as EntityType,
      tenant,
      uuid: canonicalUuid(uuid),
      version,
      order: m[2] === undefined ? undefined : Number(m[2]),
      revision: m[3],
    },
  }
}

/** A feature URN (identifier FEATURE), as `FeatureUniformResourceName.fromString`. */
export function parseFeatureUrn(value: unknown): UrnResult {
  const parsed = parseUrn(value)
  if (!parsed.ok) return parsed
  if (parsed.urn.identifier !== 'FEATURE') return { ok: false, error: `"${clip(String(value))}" is not a feature URN (URN:FEATURE:…)` }
  if (String(value).length > FEATURE_URN_MAX_SIZE) return { ok: false, error: `feature URN is longer than ${FEATURE_URN_MAX_SIZE} characters` }
  return parsed
}

/** An OAIS URN (identifier AIP, SIP or DIP), as `OaisUniformResourceName.fromString`. */
export function parseOaisUrn(value: unknown): UrnResult {
  const parsed = parseUrn(value)
  if (!parsed.ok) return parsed
  if (!(OAIS_IDENTIFIERS as readonly string[]).includes(parsed.urn.identifier)) {
    return { ok: false, error: `"${clip(String(value))}" is not an OAIS URN (URN:AIP:…, URN:SIP:… or URN:DIP:…)` }
  }
  return parsed
}

/** The canonical form (`toString()` in REGARDS): no zero padding of the version, lower-case UUID. */
export function formatUrn(urn: Urn): string {
  let out = `URN:${urn.identifier}:${urn.entityType}:${urn.tenant}:${urn.uuid}:${urn.version === undefined ? 'LAST' : `V${urn.version}`}`
  if (urn.order !== undefined) out += `,${urn.order}`
  if (urn.revision !== undefined) out += `:REV${urn.revision}`
  return out
}

/**
 * Java's `UUID.nameUUIDFromBytes(name.getBytes())`: MD5 of the raw UTF-8 bytes with no namespace, version 3.
 * REGARDS derives feature and SIP/AIP UUIDs from the provider id this way, so the same provider id always
 * gives the same UUID, here as in REGARDS.
 */
export function nameUuidFromBytes(name: string): string {
  const md5 = createHash('md5').update(Buffer.from(name, 'utf8')).digest()
  md5[6] = (md5[6] & 0x0f) | 0x30
  md5[8] = (md5[8] & 0x3f) | 0x80
  const hex = md5.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** `URN:FEATURE:DATA:<tenant>:<nameUUID(providerId)>:V<version>`. */
export function featureUrn(tenant: string, providerId: string, version: number, entityType: EntityType = 'DATA'): string {
  return formatUrn({ identifier: 'FEATURE', entityType, tenant, uuid: nameUuidFromBytes(providerId), version, order: undefined, revision: undefined })
}

/** `URN:AIP:DATA:<tenant>:<nameUUID(providerId)>:V<version>` (the AIP reuses the SIP's UUID and version). */
export function aipUrn(tenant: string, providerId: string, version: number, entityType: EntityType = 'DATA'): string {
  return formatUrn({ identifier: 'AIP', entityType, tenant, uuid: nameUuidFromBytes(providerId), version, order: undefined, revision: undefined })
}

/** Java's UUID.toString of a leniently parsed UUID: each group zero-padded, lower case. */
function canonicalUuid(uuid: string): string {
  const widths = [8, 4, 4, 4, 12]
  return uuid
    .split('-')
    .map((group, i) => group.toLowerCase().padStart(widths[i], '0'))
    .join('-')
}

const clip = (s: string) => (s.length > 140 ? `${s.slice(0, 140)}…` : s)
