import { sql, type Kysely } from 'kysely'

/**
 * Notifier tables. Every row carries its tenant. A request's progress lives in its deliveries (one per
 * recipient): a delivery row is the job, claimed with FOR UPDATE SKIP LOCKED.
 */
const statements = [
  sql`create table plugin_configuration (
    id bigserial primary key,
    tenant text not null,
    business_id varchar(36) not null,
    plugin_id text not null,
    kind text not null check (kind in ('RULE', 'RECIPIENT')),
    label text not null,
    version text not null default '1.0.0',
    priority_order int not null default 0,
    active boolean not null default true,
    parameters jsonb not null default '[]',
    updated_at timestamptz not null default now(),
    unique (tenant, business_id)
  )`,
  // A rule matcher only takes part in matching once it is associated with recipients (REGARDS Rule entity).
  sql`create table rule (
    plugin_configuration_id bigint primary key references plugin_configuration (id) on delete cascade,
    tenant text not null
  )`,
  sql`create table rule_recipient (
    rule_id bigint not null references rule (plugin_configuration_id) on delete cascade,
    recipient_id bigint not null references plugin_configuration (id) on delete cascade,
    primary key (rule_id, recipient_id)
  )`,
  // Bumped by every configuration change; each instance polls it to rebuild its compiled rules.
  sql`create table config_version (
    tenant text primary key,
    version bigint not null default 1
  )`,
  sql`create table notification_request (
    id bigserial primary key,
    tenant text not null,
    request_id varchar(36) not null,
    request_owner varchar(128),
    request_date timestamptz not null,
    received_at timestamptz not null default now(),
    not_before timestamptz not null,
    priority int not null default 0,
    mode text not null check (mode in ('RULES', 'DIRECT')),
    state text not null,
    payload jsonb not null,
    metadata jsonb not null,
    rule_errors jsonb,
    updated_at timestamptz not null default now()
  )`,
  sql`create unique index notification_request_request_id on notification_request (tenant, request_id)`,
  sql`create index notification_request_to_match on notification_request (not_before) where state = 'GRANTED'`,
  sql`create index notification_request_state on notification_request (tenant, state)`,
  sql`create table delivery (
    id bigserial primary key,
    tenant text not null,
    request_pk bigint not null references notification_request (id) on delete cascade,
    recipient_id bigint not null references plugin_configuration (id) on delete cascade,
    state text not null check (state in ('PENDING', 'SENDING', 'SUCCESS', 'ERROR')),
    priority int not null default 0,
    request_date timestamptz not null,
    attempts int not null default 0,
    next_attempt_at timestamptz not null default now(),
    lease_until timestamptz,
    last_error text,
    sent_at timestamptz,
    updated_at timestamptz not null default now(),
    unique (request_pk, recipient_id)
  )`,
  sql`create index delivery_to_claim on delivery (recipient_id, priority desc, request_date, id) where state = 'PENDING'`,
  sql`create index delivery_leased on delivery (lease_until) where state = 'SENDING'`,
  // The reason of every failed attempt, for operators (time, error class, message).
  sql`create table delivery_attempt (
    id bigserial primary key,
    tenant text not null,
    delivery_id bigint not null references delivery (id) on delete cascade,
    attempt int not null,
    at timestamptz not null default now(),
    outcome text not null,
    error_class text,
    message text
  )`,
  sql`create index delivery_attempt_delivery on delivery_attempt (delivery_id)`,
  // Completed requests leave notification_request (a re-sent id is a new request, as in REGARDS) and are
  // kept here for the console and audits until the retention period ends.
  sql`create table request_history (
    id bigint primary key,
    tenant text not null,
    request_id varchar(36) not null,
    request_owner varchar(128),
    request_date timestamptz not null,
    received_at timestamptz not null,
    completed_at timestamptz not null default now(),
    mode text not null,
    state text not null,
    payload jsonb not null,
    metadata jsonb not null,
    recipients jsonb not null
  )`,
  sql`create index request_history_lookup on request_history (tenant, request_id)`,
  sql`create index request_history_completed on request_history (completed_at)`,
  // Events to publish, written in the transaction that decided them; the relay publishes with confirms.
  sql`create table outbox (
    id bigserial primary key,
    exchange text not null,
    routing_key text not null default '',
    headers jsonb not null,
    body text not null,
    priority int not null default 1,
    created_at timestamptz not null default now()
  )`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) await statement.execute(db)
}
