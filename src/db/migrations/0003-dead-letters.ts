import { sql, type Kysely } from 'kysely'

/**
 * Dead-lettered messages, moved out of the `<queue>.DLQ` queues by the collector
 * (src/http/dead-letters/collector.ts), so operators can list, inspect, re-inject or discard them without
 * the broker's unreliable get-and-requeue browsing. `tenant` is the message's `regards.tenant` header
 * (null when it had none: such messages are reachable from the CLI only).
 */
const statements = [
  sql`create table dead_letter (
    id bigserial primary key,
    tenant text,
    dlq text not null,
    queue text not null,
    exchange text not null default '',
    routing_key text not null default '',
    reason text,
    headers jsonb not null default '{}',
    properties jsonb not null default '{}',
    body bytea not null,
    dead_lettered_at timestamptz,
    collected_at timestamptz not null default now()
  )`,
  sql`create index dead_letter_tenant on dead_letter (tenant, id)`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) await statement.execute(db)
}
