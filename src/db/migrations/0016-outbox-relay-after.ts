import { sql, type Kysely } from 'kysely'

/**
 * When a relay may take an outbox row. A row written by an intake pipeline (notifier and catalog) or by
 * completion is published from memory by its writer right after the commit and deleted once confirmed;
 * `relay_after` (the time of its insert plus
 * PUBLISH_FROM_MEMORY_GRACE_MS, src/amqp/outbox-relay.ts) keeps the relays of every instance off it
 * meanwhile, so it is published once, and by a relay only when its writer did not (a crash between commit
 * and confirm, a refused publish). Other rows are due at once. A non-volatile default: no table rewrite.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table outbox add column relay_after timestamptz not null default now()`.execute(db)
}
