import { sql, type Kysely } from 'kysely'

/** Completed requests keep their deliveries and every failed attempt, for audits (deleted with the live row otherwise). */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table request_history add column deliveries jsonb not null default '[]'`.execute(db)
}
