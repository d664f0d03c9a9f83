import { sql, type Kysely } from 'kysely'

/**
 * Each running instance beats here every few seconds, and each claimed delivery names its instance: the
 * deliveries of an instance that stopped beating (killed, its host gone) go back to PENDING within
 * seconds, instead of waiting for their 120 s lease.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table herald_instance (
    id uuid primary key,
    host text not null,
    pid int not null,
    started_at timestamptz not null default now(),
    heartbeat_at timestamptz not null default now()
  )`.execute(db)
  await sql`alter table delivery add column claimed_by uuid`.execute(db)
}
