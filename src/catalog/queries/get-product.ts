import { sql } from 'kysely'
import type { Db } from '../../db/client.ts'
import { formatUrn, parseUrn } from '../urn.ts'
import { infosColumn, toProductDto, type ProductDto, type ProductRow } from './list-products.ts'

/**
 * One product by URN (canonical or not: `V01` finds `V1`), with its content and dissemination infos; undefined
 * when the tenant has no such product.
 *
 * @example
 * const product = await getProduct(db, 'project1', 'URN:FEATURE:DATA:project1:…:V1')
 * product?.disseminationStatus // 'PENDING'
 */
export async function getProduct(db: Db, tenant: string, urn: string): Promise<ProductDto | undefined> {
  const parsed = parseUrn(urn)
  const canonical = parsed.ok ? formatUrn(parsed.urn) : urn
  const { rows } = await sql<ProductRow>`
    select p.id, p.urn, p.kind, p.provider_id, p.version, p.last, p.model, p.session_owner, p.session, p.origin_urn,
      p.created_at, p.last_update, p.dissemination_status, p.content, ${infosColumn()} as infos
    from catalog_product p where p.tenant = ${tenant} and p.urn = ${canonical}`.execute(db)
  return rows[0] ? toProductDto(rows[0]) : undefined
}
