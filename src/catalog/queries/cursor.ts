/**
 * Cursor pagination for the catalog queries: a cursor is the base64url JSON of the last item's sort key (the
 * same form as the REST layer's), so a page is one indexed range scan at any depth.
 */
export const LIMIT_DEFAULT = 50
export const LIMIT_MAX = 1000

export interface Page<T> {
  items: T[]
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string
}

/** Thrown for a cursor this query did not produce; `statusCode` 400 for the REST layer. */
export class BadCursorError extends Error {
  readonly statusCode = 400
  readonly code = 'HERALD_ERR_BAD_CURSOR'
  constructor() {
    super('cursor is not one this query returned: start again without a cursor')
  }
}

export const encodeCursor = (key: (string | number)[]) => Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')

/** The numeric id in a cursor (every catalog query pages on an id). */
export function decodeIdCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (Array.isArray(key) && key.length === 1 && Number.isSafeInteger(key[0])) return key[0]
  } catch {
    // reported below
  }
  throw new BadCursorError()
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return LIMIT_DEFAULT
  if (!Number.isInteger(limit) || limit < 1) return LIMIT_DEFAULT
  return Math.min(limit, LIMIT_MAX)
}

/** Splits `limit + 1` rows into a page and the next cursor. */
export function toPage<R extends { id: number }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const more = rows.length > limit
  const page = more ? rows.slice(0, limit) : rows
  return { items: page.map(map), ...(more ? { nextCursor: encodeCursor([page[page.length - 1].id]) } : {}) }
}
