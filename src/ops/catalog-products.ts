import { listProducts, type ProductDto, type ProductFilters } from '../catalog/queries/list-products.ts'
import { ERR_VALIDATION } from '../errors.ts'
import type { OpsDeps } from './deps.ts'
import { pageLimit, type Page } from './page.ts'
import { authorize, type Principal } from './principal.ts'

export type CatalogProduct = Omit<ProductDto, 'id'>

/** The tenant's products with their dissemination infos, by id (filters: see ProductFilters). */
export async function catalogProducts(deps: OpsDeps, principal: Principal, input: ProductFilters): Promise<Page<CatalogProduct>> {
  authorize(principal, 'read')
  pageLimit(input)
  if (input.kind !== undefined && input.kind !== 'FEATURE' && input.kind !== 'AIP') throw ERR_VALIDATION(`kind must be FEATURE or AIP, not ${input.kind}`)
  const page = await listProducts(deps.db, principal.tenant, input)
  return { ...page, items: page.items.map(({ id: _id, ...product }) => product) }
}
