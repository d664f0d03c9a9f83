import { ERR_BAD_CURSOR, ERR_VALIDATION } from '../errors.ts'

/**
 * Cursor pagination of every listing: a cursor is the opaque base64url of the last item's sort key, so a
 * page is one indexed range scan whatever its depth, and rows inserted meanwhile never shift a page.
 */
export const PAGE_LIMIT_DEFAULT = 50
export const PAGE_LIMIT_MAX = 500

export interface PageInput {
  limit?: number
  cursor?: string
}

export interface Page<T> {
  items: T[]
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string
}

/** The page size asked for, refused (HERALD_ERR_VALIDATION) outside 1..500. */
export function pageLimit(input: PageInput): number {
  const limit = input.limit ?? PAGE_LIMIT_DEFAULT
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_LIMIT_MAX) throw ERR_VALIDATION(`limit must be an integer from 1 to ${PAGE_LIMIT_MAX}, not ${limit}`)
  return limit
}

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')
}

/** The sort key in a cursor, checked against the expected types; HERALD_ERR_BAD_CURSOR otherwise. */
export function decodeCursor<T extends ('string' | 'number')[]>(cursor: string | undefined, types: T): { [K in keyof T]: T[K] extends 'string' ? string : number } | undefined {
  if (cursor === undefined || cursor === '') return undefined
  let key: unknown
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw ERR_BAD_CURSOR()
  }
  if (!Array.isArray(key) || key.length !== types.length || key.some((v, i) => typeof v !== types[i] || (typeof v === 'number' && !Number.isFinite(v)))) {
    throw ERR_BAD_CURSOR()
  }
  return key as any
}

/** Splits the `limit + 1` rows a query read into a page and the cursor of the next one. */
export function toPage<R, I>(rows: R[], limit: number, keyOf: (row: R) => (string | number)[], map: (row: R) => I): Page<I> {
  const more = rows.length > limit
  const page = more ? rows.slice(0, limit) : rows
  return { items: page.map(map), ...(more ? { nextCursor: encodeCursor(keyOf(page[page.length - 1])) } : {}) }
}
