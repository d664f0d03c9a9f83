/**
 * The REGARDS message envelope: headers, Gson-style JSON (null fields omitted, dates in UTC with `Z`).
 */
export const HEADER_TENANT = 'regards.tenant'
export const HEADER_TYPE = 'regards.type'
export const HEADER_CONVERTER = 'regards.converter'
export const HEADER_REQUEST_ID = 'regards.request.id'
export const HEADER_REQUEST_DATE = 'regards.request.date'
export const HEADER_REQUEST_OWNER = 'regards.request.owner'

export const MAX_REQUEST_ID_LENGTH = 36
export const MAX_REQUEST_OWNER_LENGTH = 128

/** A header as a string, whatever AMQP type it was sent with (strings may arrive as Buffers). */
export function headerString(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = headers?.[name]
  if (value === undefined || value === null) return undefined
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  return String(value)
}

/**
 * Parses `regards.request.date` as REGARDS does: ISO-8601 local date-time with an optional offset,
 * case-insensitive; no offset means UTC. Returns undefined when it cannot be parsed.
 */
export function parseRequestDate(value: string): Date | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)([Zz]|[+-]\d{2}:?\d{2})?$/.exec(value.trim())
  if (!m) return undefined
  const [, date, time, offset] = m
  // JavaScript keeps milliseconds: longer fractions are truncated, as REGARDS truncates to microseconds.
  const [hms, fraction = ''] = time.split('.')
  const iso = `${date}T${hms.length === 5 ? `${hms}:00` : hms}.${fraction.padEnd(3, '0').slice(0, 3)}${normalizeOffset(offset)}`
  const parsed = new Date(iso)
  return Number.isNaN(parsed.getTime()) ? undefined : parsed
}

function normalizeOffset(offset: string | undefined): string {
  if (!offset || offset.toUpperCase() === 'Z') return 'Z'
  return offset.includes(':') ? offset : `${offset.slice(0, 3)}:${offset.slice(3)}`
}

/** Gson's OffsetDateTime form: UTC, `Z`, fraction digits only as needed (0, 3 …). */
export function formatDate(date: Date): string {
  const iso = date.toISOString()
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso
}

/** JSON as Gson writes it with serializeNulls=false: null and undefined object fields are omitted. */
export function toGsonJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const out: Record<string, unknown> = {}
      for (const [k, field] of Object.entries(v)) if (field !== null && field !== undefined) out[k] = field
      return out
    }
    return v
  })
}

/** Headers and properties every REGARDS event published by Herald carries. */
export function eventHeaders(tenant: string, type: string): Record<string, string> {
  return { [HEADER_TENANT]: tenant, [HEADER_TYPE]: type, [HEADER_CONVERTER]: 'GSON' }
}
