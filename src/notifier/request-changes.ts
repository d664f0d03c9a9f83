import { sql } from 'kysely'
import type { Db } from '../db/client.ts'

export interface RequestChange {
  requestId: string
  state: string
  /** When the change happened (reception, failure or completion). */
  at: Date
}

/** Where a reader of the changes stands: the last request row seen, and the time of the last look. */
export interface ChangeCursor {
  lastId: number
  since: Date
}

/** The cursor of a reader that starts now: only what happens from here on is a change. */
export async function currentChangeCursor(db: Db, tenant: string): Promise<ChangeCursor> {
  const { rows } = await sql<{ id: number | null; now: Date }>`
    select (select max(id) from notification_request where tenant = ${tenant}) as id, now() as now`.execute(db)
  return { lastId: Number(rows[0].id ?? 0), since: new Date(rows[0].now) }
}

/**
 * What changed in a tenant's requests since the cursor: new requests (by id, the primary key), requests
 * that fell into ERROR or RULE_ERROR (few rows, through the (tenant, state) index) and completed ones (the
 * history's completed_at index). Three index reads, nothing added to the hot path's writes.
 */
export async function readRequestChanges(db: Db, tenant: string, cursor: ChangeCursor, limit = 200): Promise<{ changes: RequestChange[]; cursor: ChangeCursor }> {
  const { rows: clock } = await sql<{ now: Date }>`select now() as now`.execute(db)
  const now = new Date(clock[0].now)
  const [created, failed, completed] = await Promise.all([
    sql<{ id: number; request_id: string; state: string; at: Date }>`
      select id, request_id, state, received_at as at from notification_request
      where tenant = ${tenant} and id > ${cursor.lastId} order by id limit ${limit}`.execute(db),
    sql<{ request_id: string; state: string; at: Date }>`
      select request_id, state, updated_at as at from notification_request
      where tenant = ${tenant} and state in ('ERROR', 'RULE_ERROR') and updated_at > ${cursor.since} and updated_at <= ${now}
      order by updated_at limit ${limit}`.execute(db),
    sql<{ request_id: string; state: string; at: Date }>`
      select request_id, state, completed_at as at from request_history
      where completed_at > ${cursor.since} and completed_at <= ${now} and tenant = ${tenant}
      order by completed_at limit ${limit}`.execute(db),
  ])
  const changes = [...created.rows, ...failed.rows, ...completed.rows].map((r) => ({ requestId: r.request_id, state: r.state, at: new Date(r.at) }))
  const lastId = created.rows.length > 0 ? Number(created.rows[created.rows.length - 1].id) : cursor.lastId
  return { changes, cursor: { lastId, since: now } }
}
