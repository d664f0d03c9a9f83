import { sql, type RawBuilder } from 'kysely'
import { formatDate } from '../../amqp/envelope.ts'
import type { Db } from '../../db/client.ts'
import { priorityName, type PriorityLevel, type RequestType } from '../types.ts'
import { clampLimit, decodeIdCursor, toPage, type Page } from './cursor.ts'

export interface RequestFilters {
  /** GRANTED (in progress) and ERROR live in the request table; SUCCESS reads the history. Default: live ones. */
  state?: 'GRANTED' | 'ERROR' | 'SUCCESS'
  type?: RequestType
  /** e.g. WAITING_BLOCKING_DISSEMINATION, REMOTE_NOTIFICATION_ERROR (live requests only). */
  step?: string
  urn?: string
  requestId?: string
  limit?: number
  cursor?: string
}

export interface RequestDto {
  id: number
  requestId: string
  requestOwner?: string
  type: RequestType
  state: 'GRANTED' | 'ERROR' | 'SUCCESS'
  step?: string
  priority: PriorityLevel
  requestDate: string
  registrationDate: string
  urn?: string
  providerId?: string
  recipients?: unknown
  errors?: string[]
  lastUpdate?: string
  completedAt?: string
}

interface Row {
  id: number
  request_id: string
  request_owner: string | null
  type: RequestType
  state: 'GRANTED' | 'ERROR' | 'SUCCESS'
  step: string | null
  priority: number
  request_date: Date
  registration_date: Date
  urn: string | null
  provider_id: string | null
  recipients: unknown
  errors: string[] | null
  last_update: Date | null
  completed_at: Date | null
}

/**
 * Lists a tenant's catalog requests by state (GRANTED, ERROR, or SUCCESS from the history), one page at a time.
 *
 * @example
 * const blocked = await listRequests(db, 'project1', { type: 'DELETION', step: 'WAITING_BLOCKING_DISSEMINATION' })
 */
export async function listRequests(db: Db, tenant: string, filters: RequestFilters = {}): Promise<Page<RequestDto>> {
  const limit = clampLimit(filters.limit)
  const after = decodeIdCursor(filters.cursor)
  const where: RawBuilder<unknown>[] = [sql`tenant = ${tenant}`]
  if (after !== undefined) where.push(sql`id > ${after}`)
  if (filters.type !== undefined) where.push(sql`type = ${filters.type}`)
  if (filters.urn !== undefined) where.push(sql`urn = ${filters.urn}`)
  if (filters.requestId !== undefined) where.push(sql`request_id = ${filters.requestId}`)
  let rows: Row[]
  if (filters.state === 'SUCCESS') {
    if (filters.step !== undefined) return { items: [] }
    ;({ rows } = await sql<Row>`select id, request_id, request_owner, type, 'SUCCESS' as state, null as step, priority,
        request_date, registration_date, urn, provider_id, recipients, null as errors, null as last_update, completed_at
      from catalog_request_history where ${sql.join(where, sql` and `)} order by id limit ${limit + 1}`.execute(db))
  } else {
    if (filters.state !== undefined) where.push(sql`state = ${filters.state}`)
    if (filters.step !== undefined) where.push(sql`step = ${filters.step}`)
    ;({ rows } = await sql<Row>`select id, request_id, request_owner, type, state, step, priority, request_date,
        registration_date, urn, provider_id, recipients, errors, last_update, null as completed_at
      from catalog_request where ${sql.join(where, sql` and `)} order by id limit ${limit + 1}`.execute(db))
  }
  return toPage(rows, limit, (r) => {
    const dto: RequestDto = {
      id: r.id,
      requestId: r.request_id,
      requestOwner: r.request_owner ?? undefined,
      type: r.type,
      state: r.state,
      step: r.step ?? undefined,
      priority: priorityName(r.priority),
      requestDate: formatDate(r.request_date),
      registrationDate: formatDate(r.registration_date),
      urn: r.urn ?? undefined,
      providerId: r.provider_id ?? undefined,
      recipients: r.recipients ?? undefined,
      errors: r.errors ?? undefined,
      lastUpdate: r.last_update ? formatDate(r.last_update) : undefined,
      completedAt: r.completed_at ? formatDate(r.completed_at) : undefined,
    }
    for (const key of Object.keys(dto) as (keyof RequestDto)[]) if (dto[key] === undefined) delete dto[key]
    return dto
  })
}
