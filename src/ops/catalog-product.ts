import { getProduct } from '../catalog/queries/get-product.ts'
import { ERR_NOT_FOUND } from '../errors.ts'
import type { CatalogProduct } from './catalog-products.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Principal } from './principal.ts'

/** One product by URN (`V01` finds `V1`), with its content and dissemination infos. */
export async function catalogProduct(deps: OpsDeps, principal: Principal, input: { urn: string }): Promise<CatalogProduct> {
  authorize(principal, 'read')
  const product = await getProduct(deps.db, principal.tenant, input.urn)
  if (!product) throw ERR_NOT_FOUND(`no product ${input.urn} in tenant ${principal.tenant}`)
  const { id: _id, ...shown } = product
  return shown
}
