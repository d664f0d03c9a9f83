import { sql, type Kysely } from 'kysely'

/**
 * Indexes of the overview and completeness screens (src/notifier/delivery-activity.ts, completeness.ts),
 * which read a tenant's last day (or last days) of deliveries by time: without them each refresh (every
 * few seconds, per open console) scans the whole delivery, attempt and history tables. The delivery index
 * is partial: only sent deliveries have a `sent_at`, so waiting backlogs add nothing to it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index delivery_sent on delivery (tenant, sent_at) where sent_at is not null`.execute(db)
  await sql`create index delivery_attempt_tenant_at on delivery_attempt (tenant, at)`.execute(db)
  await sql`create index notification_request_received on notification_request (tenant, received_at)`.execute(db)
  await sql`create index request_history_tenant_completed on request_history (tenant, completed_at)`.execute(db)
}
