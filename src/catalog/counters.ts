import { sql } from 'kysely'
import type { Db, Tx } from '../db/client.ts'

/**
 * Per-tenant counters of messages that changed nothing or changed something unexpected (an ack for an unknown
 * URN, an ack for a label never notified, a duplicate ack …), kept in the database so every instance adds to
 * the same numbers and operators can read them (REST, CLI) long after the log lines are gone. Only anomalies
 * are counted here: a counter row is locked until its transaction commits, and the normal path must not
 * queue every ack batch of every instance behind one row.
 */
export type CounterName =
  | 'ack.unknown-urn'
  | 'ack.unknown-label'
  | 'ack.duplicate'
  | 'dissemination.already-acknowledged'
  | 'ack.dead-lettered'
  | 'ack.untyped'
  | 'notifier-event.unknown-request'

/** Adds the counts in one statement, in the caller's transaction. */
export async function addCounters(tx: Tx | Db, tenant: string, counts: Partial<Record<CounterName, number>>): Promise<void> {
  const rows = Object.entries(counts)
    .filter(([, n]) => n && n > 0)
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => a.name.localeCompare(b.name)) // a fixed lock order: no deadlock between instances
  if (rows.length === 0) return
  await sql`insert into catalog_counter (tenant, name, value)
    select ${tenant}, name, value from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as t(name text, value bigint)
    on conflict (tenant, name) do update set value = catalog_counter.value + excluded.value, updated_at = now()`.execute(tx)
}

/** The tenant's counters, by name. */
export async function readCounters(db: Db, tenant: string): Promise<Record<string, number>> {
  const { rows } = await sql<{ name: string; value: number }>`select name, value from catalog_counter
    where tenant = ${tenant} order by name`.execute(db)
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.value)]))
}
