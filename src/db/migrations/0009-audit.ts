import { sql, type Kysely } from 'kysely'

/**
 * The audit trail: one row per operation that changes something (or was refused), whoever asked it
 * (REST, console, CLI). Kept as long as the request history (HERALD_HISTORY_RETENTION_DAYS).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table audit_entry (
    id bigserial primary key,
    tenant text not null,
    at timestamptz not null default now(),
    subject text,
    role text not null,
    action text not null,
    target text,
    outcome text not null,
    detail text
  )`.execute(db)
  // Read newest first per tenant (GET /api/v1/audit), purged by date.
  await sql`create index audit_entry_tenant_id on audit_entry (tenant, id desc)`.execute(db)
  await sql`create index audit_entry_at on audit_entry (at)`.execute(db)
}
