import { sql } from 'kysely'
import type { Db } from '../db/client.ts'

/** A dead-lettered message, as the collector moved it out of its DLQ. */
export interface DeadLetter {
  id: number
  tenant: string | null
  /** The DLQ it was collected from (`<queue>.DLQ`). */
  dlq: string
  /** The consumer queue it failed in. */
  queue: string
  /** Where it had been published: re-injection can publish there again. */
  exchange: string
  routingKey: string
  reason: string | null
  requestId: string | null
  deadLetteredAt: Date | null
  collectedAt: Date
  size: number
}

export interface DeadLetterMessage extends DeadLetter {
  headers: Record<string, unknown>
  properties: Record<string, unknown>
  body: Buffer
}

export type NewDeadLetter = Omit<DeadLetterMessage, 'id' | 'collectedAt' | 'size' | 'requestId'>

interface Row {
  id: number
  tenant: string | null
  dlq: string
  queue: string
  exchange: string
  routing_key: string
  reason: string | null
  request_id: string | null
  dead_lettered_at: Date | null
  collected_at: Date
  size: number
  headers?: Record<string, unknown>
  properties?: Record<string, unknown>
  body?: string
}

const toDeadLetter = (r: Row): DeadLetter => ({
  id: r.id,
  tenant: r.tenant,
  dlq: r.dlq,
  queue: r.queue,
  exchange: r.exchange,
  routingKey: r.routing_key,
  reason: r.reason,
  requestId: r.request_id,
  deadLetteredAt: r.dead_lettered_at,
  collectedAt: r.collected_at,
  size: Number(r.size),
})

export async function insertDeadLetter(db: Db, m: NewDeadLetter): Promise<void> {
  await sql`insert into dead_letter (tenant, dlq, queue, exchange, routing_key, reason, headers, properties, body, dead_lettered_at)
    values (${m.tenant}, ${m.dlq}, ${m.queue}, ${m.exchange}, ${m.routingKey}, ${m.reason}, ${JSON.stringify(m.headers)}::jsonb,
      ${JSON.stringify(m.properties)}::jsonb, decode(${m.body.toString('base64')}, 'base64'), ${m.deadLetteredAt?.toISOString() ?? null}::timestamptz)`.execute(db)
}

/** `tenant` null lists every tenant's messages (and those without a tenant): for the CLI only. */
export interface DeadLetterFilter {
  tenant: string | null
  queue?: string
}

const where = (f: DeadLetterFilter) => sql.join(
  [
    f.tenant === null ? sql`true` : sql`tenant = ${f.tenant}`,
    f.queue === undefined ? sql`true` : sql`(queue = ${f.queue} or dlq = ${f.queue})`,
  ],
  sql` and `,
)

const COLUMNS = sql`id, tenant, dlq, queue, exchange, routing_key, reason, headers ->> 'regards.request.id' as request_id,
  dead_lettered_at, collected_at, length(body) as size`

/** Oldest first, `limit + 1` rows after `afterId`. */
export async function listDeadLetters(db: Db, filter: DeadLetterFilter, limit: number, afterId = 0): Promise<DeadLetter[]> {
  const { rows } = await sql<Row>`select ${COLUMNS} from dead_letter where ${where(filter)} and id > ${afterId}
    order by id limit ${limit + 1}`.execute(db)
  return rows.map(toDeadLetter)
}

export async function getDeadLetters(db: Db, filter: DeadLetterFilter, ids: number[]): Promise<DeadLetterMessage[]> {
  if (ids.length === 0) return []
  const { rows } = await sql<Row>`select ${COLUMNS}, headers, properties, encode(body, 'base64') as body from dead_letter
    where ${where(filter)} and id = any(${ids}::bigint[]) order by id`.execute(db)
  return rows.map((r) => ({ ...toDeadLetter(r), headers: r.headers ?? {}, properties: r.properties ?? {}, body: Buffer.from(r.body ?? '', 'base64') }))
}

/** Deletes the given messages (or every matching one when `ids` is undefined); returns how many. */
export async function deleteDeadLetters(db: Db, filter: DeadLetterFilter, ids: number[] | undefined): Promise<number> {
  const result = await sql`delete from dead_letter where ${where(filter)}
    ${ids === undefined ? sql`` : sql`and id = any(${ids}::bigint[])`}`.execute(db)
  return Number(result.numAffectedRows ?? 0)
}

/** Rows per tenant and queue, for the DLQ depth gauge. */
export async function countDeadLetters(db: Db): Promise<{ tenant: string | null; queue: string; count: number }[]> {
  const { rows } = await sql<{ tenant: string | null; queue: string; count: number }>`select tenant, queue, count(*)::int as count
    from dead_letter group by tenant, queue`.execute(db)
  return rows
}
