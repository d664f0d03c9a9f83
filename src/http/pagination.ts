import { Type, type TSchema } from 'typebox'
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../ops/page.ts'

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
