import { listRequests, type RequestDto, type RequestFilters } from '../catalog/queries/list-requests.ts'
import { REQUEST_TYPES } from '../catalog/types.ts'
import { ERR_VALIDATION } from '../errors.ts'
import type { OpsDeps } from './deps.ts'
import { pageLimit, type Page } from './page.ts'
import { authorize, type Principal } from './principal.ts'

export const CATALOG_REQUEST_STATES = ['GRANTED', 'ERROR', 'SUCCESS'] as const

export type CatalogRequest = Omit<RequestDto, 'id'>

/** The tenant's catalog requests: live ones (GRANTED, ERROR) by default, SUCCESS from the history. */
export async function catalogRequests(deps: OpsDeps, principal: Principal, input: RequestFilters): Promise<Page<CatalogRequest>> {
  authorize(principal, 'read')
  pageLimit(input)
  if (input.state !== undefined && !CATALOG_REQUEST_STATES.includes(input.state)) throw ERR_VALIDATION(`state must be one of ${CATALOG_REQUEST_STATES.join(', ')}`)
  if (input.type !== undefined && !REQUEST_TYPES.includes(input.type)) throw ERR_VALIDATION(`type must be one of ${REQUEST_TYPES.join(', ')}`)
  const page = await listRequests(deps.db, principal.tenant, input)
  return { ...page, items: page.items.map(({ id: _id, ...request }) => request) }
}
