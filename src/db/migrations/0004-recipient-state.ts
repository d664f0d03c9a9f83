import { sql, type Kysely } from 'kysely'

/**
 * Delivery state of each recipient, shared by all instances: parked after consecutive failures (its
 * deliveries wait, nothing is dropped) and probed until it answers again.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table recipient_state (
    recipient_id bigint primary key references plugin_configuration (id) on delete cascade,
    tenant text not null,
    consecutive_failures int not null default 0,
    parked boolean not null default false,
    parked_at timestamptz,
    parked_reason text,
    parked_by text,
    next_probe_at timestamptz,
    updated_at timestamptz not null default now()
  )`.execute(db)
}
