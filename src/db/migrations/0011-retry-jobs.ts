import { sql, type Kysely } from 'kysely'

/**
 * Bulk retries by filter, run as jobs: a row per job holds its filter, its keyset position and its counts,
 * so a job survives a restart (another instance takes it over from where it stopped) and its progress and
 * cancellation are seen by every instance.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table retry_job (
    id bigserial primary key,
    tenant text not null,
    filter jsonb not null,
    state text not null check (state in ('running', 'done', 'cancelled', 'failed')),
    -- What the job was expected to retry when it started, and whether that count is exact or the planner's estimate.
    estimate int not null,
    estimate_exact boolean not null,
    -- Requests registered after the start are not part of the job; after_id is the keyset position.
    up_to_id bigint not null,
    after_id bigint not null default 0,
    requests int not null default 0,
    deliveries int not null default 0,
    rematched int not null default 0,
    subject text,
    role text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    finished_at timestamptz,
    cancelled_by text,
    error text,
    failures int not null default 0,
    -- The instance running it and when it last committed a batch; null runner: waiting to be taken.
    runner text,
    heartbeat_at timestamptz
  )`.execute(db)
  // One running job per tenant (two would fight over the same rows), and what the runners scan for.
  await sql`create unique index retry_job_running on retry_job (tenant) where state = 'running'`.execute(db)
  await sql`create index retry_job_tenant_id on retry_job (tenant, id desc)`.execute(db)
}
