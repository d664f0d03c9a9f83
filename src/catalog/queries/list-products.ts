import { sql, type RawBuilder } from 'kysely'
import { formatDate } from '../../amqp/envelope.ts'
import type { Db } from '../../db/client.ts'
import { ERR_VALIDATION } from '../../errors.ts'
import type { DisseminationInfoDto, DisseminationStatus } from '../types.ts'
import { DISSEMINATION_STATUSES } from '../types.ts'
import { clampLimit, decodeIdCursor, toPage, type Page } from './cursor.ts'

export interface ProductFilters {
  /**
   * Dissemination status. Without `label`, the product's: NONE (never disseminated), PENDING (an info waits
   * for its ack), DONE (all acknowledged). With `label`, that recipient's: NONE (never sent to it), PENDING,
   * DONE. Unlike REGARDS (where NONE only matches legacy rows), a product never disseminated is NONE.
   */
  status?: DisseminationStatus | DisseminationStatus[]
  /** Products with a dissemination info for this recipient label. */
  label?: string
  urn?: string | string[]
  kind?: 'FEATURE' | 'AIP'
  providerId?: string
  session?: string
  sessionOwner?: string
  /** Include the product itself (GeoJSON feature or AIP document). Default false. */
  withContent?: boolean
  limit?: number
  cursor?: string
}

/** `FeatureEntityDto`-like view of a product, dates in Gson form. */
export interface ProductDto {
  id: number
  urn: string
  kind: 'FEATURE' | 'AIP'
  providerId: string
  version: number
  last: boolean
  model?: string
  sessionOwner?: string
  session?: string
  originUrn?: string
  creationDate: string
  lastUpdate: string
  disseminationStatus: DisseminationStatus
  /** REGARDS `disseminationPending`: true while an info waits for its ack. */
  disseminationPending: boolean
  disseminationsInfo: DisseminationInfoDto[]
  content?: unknown
}

export interface ProductRow {
  id: number
  urn: string
  kind: 'FEATURE' | 'AIP'
  provider_id: string
  version: number
  last: boolean
  model: string | null
  session_owner: string | null
  session: string | null
  origin_urn: string | null
  created_at: Date
  last_update: Date
  dissemination_status: DisseminationStatus
  infos: { label: string; requestDate: string; ackDate: string | null; blocking: boolean }[]
  content?: unknown
}

/**
 * Lists a tenant's products with their dissemination infos, by id, one page at a time.
 *
 * @example
 * const page = await listProducts(db, 'project1', { status: 'PENDING', label: 'mission-b', limit: 100 })
 * // page.items[0].disseminationsInfo → [{ label: 'mission-b', requestDate: '…Z', blocking: true }]
 * const next = page.nextCursor && (await listProducts(db, 'project1', { status: 'PENDING', label: 'mission-b', cursor: page.nextCursor }))
 */
export async function listProducts(db: Db, tenant: string, filters: ProductFilters = {}): Promise<Page<ProductDto>> {
  const limit = clampLimit(filters.limit)
  const after = decodeIdCursor(filters.cursor)
  const where: RawBuilder<unknown>[] = [sql`p.tenant = ${tenant}`]
  if (after !== undefined) where.push(sql`p.id > ${after}`)
  const statuses = filters.status === undefined ? [] : Array.isArray(filters.status) ? filters.status : [filters.status]
  for (const s of statuses) {
    if (!DISSEMINATION_STATUSES.includes(s)) throw ERR_VALIDATION(`unknown dissemination status ${s}: NONE, PENDING or DONE`)
  }
  if (filters.label !== undefined) {
    const labelStatus = sql`(select case when d.ack_date is null then 'PENDING' else 'DONE' end from catalog_dissemination d
      where d.product_id = p.id and d.label = ${filters.label})`
    if (statuses.length === 0) where.push(sql`${labelStatus} is not null`)
    else where.push(sql`coalesce(${labelStatus}, 'NONE') = any(${statuses}::text[])`)
  } else if (statuses.length > 0) {
    where.push(sql`p.dissemination_status = any(${statuses}::text[])`)
  }
  if (filters.urn !== undefined) where.push(sql`p.urn = any(${Array.isArray(filters.urn) ? filters.urn : [filters.urn]}::text[])`)
  if (filters.kind !== undefined) where.push(sql`p.kind = ${filters.kind}`)
  if (filters.providerId !== undefined) where.push(sql`p.provider_id = ${filters.providerId}`)
  if (filters.session !== undefined) where.push(sql`p.session = ${filters.session}`)
  if (filters.sessionOwner !== undefined) where.push(sql`p.session_owner = ${filters.sessionOwner}`)
  const { rows } = await sql<ProductRow>`
    select p.id, p.urn, p.kind, p.provider_id, p.version, p.last, p.model, p.session_owner, p.session, p.origin_urn,
      p.created_at, p.last_update, p.dissemination_status, ${filters.withContent ? sql`p.content,` : sql``}
      ${infosColumn()} as infos
    from catalog_product p
    where ${sql.join(where, sql` and `)}
    order by p.id
    limit ${limit + 1}`.execute(db)
  return toPage(rows, limit, toProductDto)
}

/** The product's infos as a JSON array, label order (one correlated subquery, served by the primary key). */
export function infosColumn(): RawBuilder<unknown> {
  return sql`coalesce((select jsonb_agg(jsonb_build_object('label', d.label, 'requestDate', d.request_date,
      'ackDate', d.ack_date, 'blocking', d.blocking) order by d.label)
    from catalog_dissemination d where d.product_id = p.id), '[]'::jsonb)`
}

export function toProductDto(row: ProductRow): ProductDto {
  const dto: ProductDto = {
    id: row.id,
    urn: row.urn,
    kind: row.kind,
    providerId: row.provider_id,
    version: row.version,
    last: row.last,
    model: row.model ?? undefined,
    sessionOwner: row.session_owner ?? undefined,
    session: row.session ?? undefined,
    originUrn: row.origin_urn ?? undefined,
    creationDate: formatDate(row.created_at),
    lastUpdate: formatDate(row.last_update),
    disseminationStatus: row.dissemination_status,
    disseminationPending: row.dissemination_status === 'PENDING',
    disseminationsInfo: row.infos.map((i) => ({
      label: i.label,
      requestDate: formatDate(new Date(i.requestDate)),
      ...(i.ackDate ? { ackDate: formatDate(new Date(i.ackDate)) } : {}),
      blocking: i.blocking,
    })),
  }
  if ('content' in row) dto.content = row.content
  for (const key of Object.keys(dto) as (keyof ProductDto)[]) if (dto[key] === undefined) delete dto[key]
  return dto
}
