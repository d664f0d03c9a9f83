import { Type, type TProperties, type TSchema } from 'typebox'
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, type Page } from '../ops/page.ts'
import type { Endpoint } from './endpoint.ts'
import { strict } from './schemas.ts'

/** The query members and answer of every cursor-paginated listing (src/ops/page.ts). */
export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, description: `page size (default ${PAGE_LIMIT_DEFAULT})` })),
  cursor: Type.Optional(Type.String({ maxLength: 512, description: 'nextCursor of the previous page' })),
}

export const pageOf = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Optional(Type.String({ description: 'pass as ?cursor= to get the next page; absent on the last page' })),
  })

/**
 * The query and answers of a listing endpoint: its filter members, then `limit` and `cursor`; a page of `item`,
 * or 400 for a query out of bounds (401 and 403 as every route).
 */
export const listingOf = <T extends TSchema, F extends TProperties = {}>(item: T, filter: F = {} as F) =>
  ({
    querystring: strict({ ...filter, ...PageQuery }),
    response: { 200: pageOf(item) },
    problems: [400],
  }) satisfies Partial<Endpoint>

/** A page of the operation's items as the API shows them. */
export const pageView = <T, V>(page: Page<T>, view: (item: T) => V): Page<V> => ({ ...page, items: page.items.map(view) })
