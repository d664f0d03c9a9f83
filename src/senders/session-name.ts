import type { DeliveryItem } from './sender.ts'

/**
 * The dashboard session of the products a worker-manager or LTA sender emits (REGARDS
 * `SessionUtils.computeSessionNameAndOwner`).
 *
 * - Without a pattern, the owner and the session are the request's `metadata.sessionOwner` and
 *   `metadata.session`.
 * - With a pattern `{<jsonPath>}-#day<suffix>`, the owner is `REGARDS-<tenant>` and the session is
 *   `<value at jsonPath in the payload>-<today>` followed by the suffix, for example
 *   `{properties.data.type}-#day-foo` gives `L2_RAD-2026-11-22-foo`. When the pattern does not have that
 *   shape, or the path does not lead to a JSON primitive, the session is `sessionNamePatternError-<today>`
 *   so the products stay visible on the dashboard under a name that says what to fix.
 *
 * REGARDS formats "today" in the JVM's time zone; Herald uses the UTC date, the same on every instance.
 */
export interface SessionNameAndOwner {
  sessionOwner: string | undefined
  session: string | undefined
}

export const SESSION_NAME_PATTERN = /^\{(.+)\}-(#day)(.*)$/
export const SESSION_NAME_PATTERN_ERROR = 'sessionNamePatternError'

export function computeSessionNameAndOwner(
  item: Pick<DeliveryItem, 'payload' | 'metadata'>,
  sessionNamePattern: string | undefined,
  tenant: string,
  now: Date = new Date(),
): SessionNameAndOwner {
  if (!sessionNamePattern) {
    return { sessionOwner: primitiveText(readJsonPath(item.metadata, 'sessionOwner')), session: primitiveText(readJsonPath(item.metadata, 'session')) }
  }
  const today = now.toISOString().slice(0, 10)
  const match = SESSION_NAME_PATTERN.exec(sessionNamePattern)
  const value = match ? primitiveText(readJsonPath(item.payload, match[1])) : undefined
  return {
    sessionOwner: `REGARDS-${tenant}`,
    session: value === undefined ? `${SESSION_NAME_PATTERN_ERROR}-${today}` : `${value}-${today}${match![3]}`,
  }
}

/** The text of a JSON primitive (string, number, boolean); undefined for null, objects, arrays and absence. */
export function primitiveText(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return undefined
}

const PATH_TOKEN = /\.?([^.[\]]+)|\[\s*(\d+)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]/y

/**
 * Reads a value with the subset of JSONPath that REGARDS configurations use: `$.a.b`, `a.b`, `a[0].b`,
 * `$['a']["b"]`. Returns undefined when the path is malformed or leads nowhere (no wildcards, no filters).
 */
export function readJsonPath(root: unknown, path: string): unknown {
  let rest = path.trim()
  if (rest.startsWith('$')) rest = rest.slice(1)
  let current: unknown = root
  PATH_TOKEN.lastIndex = 0
  while (PATH_TOKEN.lastIndex < rest.length) {
    const token = PATH_TOKEN.exec(rest)
    if (!token) return undefined
    const key = token[1] ?? token[3] ?? token[4]
    if (token[2] !== undefined) {
      if (!Array.isArray(current)) return undefined
      current = current[Number(token[2])]
    } else if (current !== null && typeof current === 'object' && !Array.isArray(current) && Object.hasOwn(current, key!)) {
      current = (current as Record<string, unknown>)[key!]
    } else {
      return undefined
    }
  }
  return current
}
