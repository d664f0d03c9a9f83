import { Type, type TSchema } from 'typebox'
import { ERR_BAD_CURSOR } from '../errors.ts'

/**
 * Cursor pagination: a cursor is the opaque base64url of the last item's sort key, so a page is one
 * indexed range scan whatever its depth, and rows inserted meanwhile never shift a page.
 */
export const PAGE_LIMIT_DEFAULT = 50
export const PAGE_LIMIT_MAX = 500

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, description: `page size (default ${PAGE_LIMIT_DEFAULT})` })),
  cursor: Type.Optional(Type.String({ maxLength: 512, description: 'nextCursor of the previous page' })),
}

export const pageOf = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Optional(Type.String({ description: 'pass as ?cursor= to get the next page; absent on the last page' })),
  })

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')
}

/** The sort key in a cursor, checked against the expected types; 400 HERALD_ERR_BAD_CURSOR otherwise. */
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
export function toPage<R, I>(rows: R[], limit: number, keyOf: (row: R) => (string | number)[], map: (row: R) => I): { items: I[]; nextCursor?: string } {
  const more = rows.length > limit
  const page = more ? rows.slice(0, limit) : rows
  return { items: page.map(map), ...(more ? { nextCursor: encodeCursor(keyOf(page[page.length - 1])) } : {}) }
}
